from django.db import migrations, models
from django.db.models.functions import Left, Length

# core.limits.PARAGRAPH when this migration was written; a migration does not import app code.
PARAGRAPH = 2000


def truncate_over_long_texts(apps, schema_editor):
    """Cut texts written before the cap so the column can become varchar(2000); rerunnable."""
    for model_name, field in [("Organization", "description"), ("ExpertProfile", "bio")]:
        model = apps.get_model("accounts", model_name)
        model.objects.annotate(length=Length(field)).filter(length__gt=PARAGRAPH).update(
            **{field: Left(field, PARAGRAPH)}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_organization_constraint_messages"),
    ]

    operations = [
        migrations.RunPython(truncate_over_long_texts, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="expertprofile",
            name="bio",
            field=models.CharField(blank=True, max_length=2000, verbose_name="个人简介"),
        ),
        migrations.AlterField(
            model_name="organization",
            name="description",
            field=models.CharField(blank=True, max_length=2000, verbose_name="机构简介"),
        ),
    ]
