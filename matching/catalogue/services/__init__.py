"""Writes for needs, results, capability profiles, attachments and access to confidential needs, one
module per concept.

Every service is keyword-only, validates everything before it writes (``ValidationError`` with a
field dict, nothing written), checks that the actor belongs to the owning organization
(``PermissionDenied`` otherwise; platform staff may act on any organization), writes and audits in one
transaction, and schedules matching with ``transaction.on_commit``.

``data`` keys are model field names. ``field`` may be a ``taxonomy.Field`` or its code, ``region`` a
``taxonomy.Region`` or its name; ``coop_modes``/``transfer_modes`` codes or labels (a list, or one
string separated by commas or 、); ``keywords``/``application_fields`` a list or such a string.
Row errors of indicators and patents name the row, 1-based: ``第2行：目标值应为数字。``.
"""

from matching.catalogue.services.access import (
    access_answers_sweep,
    need_access_decide,
    need_access_invite,
    need_access_request,
)
from matching.catalogue.services.attachments import (
    attachment_add,
    attachment_delete,
    attachments_add,
    validate_upload,
)
from matching.catalogue.services.capabilities import (
    capability_create,
    capability_delete,
    capability_update,
)
from matching.catalogue.services.common import (
    ALLOWED_UPLOADS,
    CAPABILITY_EDITABLE,
    DOCX_MIME,
    NEED_EDITABLE,
    NEED_FROZEN_STATUSES,
    NEED_TRANSITIONS,
    RESULT_EDITABLE,
    RESULT_TRANSITIONS,
    Errors,
    validate_indicator_rows,
    validate_patent_rows,
)
from matching.catalogue.services.freshness import (
    listings_expiry_sweep,
    need_renew,
    result_renew,
)
from matching.catalogue.services.needs import (
    INDICATOR_FIELDS,
    need_close,
    need_create,
    need_publish,
    need_save,
    need_set_status,
    need_update,
    need_withdraw,
)
from matching.catalogue.services.results import (
    result_create,
    result_publish,
    result_save,
    result_set_status,
    result_update,
    result_withdraw,
)

__all__ = [
    "listings_expiry_sweep",
    "need_renew",
    "result_renew",
    "ALLOWED_UPLOADS",
    "CAPABILITY_EDITABLE",
    "DOCX_MIME",
    "Errors",
    "INDICATOR_FIELDS",
    "NEED_EDITABLE",
    "NEED_FROZEN_STATUSES",
    "NEED_TRANSITIONS",
    "RESULT_EDITABLE",
    "RESULT_TRANSITIONS",
    "attachment_add",
    "attachment_delete",
    "attachments_add",
    "capability_create",
    "capability_delete",
    "capability_update",
    "access_answers_sweep",
    "need_access_decide",
    "need_access_invite",
    "need_access_request",
    "need_close",
    "need_create",
    "need_publish",
    "need_save",
    "need_set_status",
    "need_update",
    "need_withdraw",
    "result_create",
    "result_publish",
    "result_save",
    "result_set_status",
    "result_update",
    "result_withdraw",
    "validate_indicator_rows",
    "validate_patent_rows",
    "validate_upload",
]
