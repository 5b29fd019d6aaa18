from django.db import migrations
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    dependencies = [("core", "0002_audit_event_append_only")]

    operations = [VectorExtension()]
