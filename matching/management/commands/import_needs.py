from matching.management.commands._import_base import ImportCommand


class Command(ImportCommand):
    help = (
        "Import needs from a CSV or XLSX file in the template of fixtures/templates: all rows or "
        "none, idempotent by 外部编号 (external_ref)."
    )
    kind = "needs"
