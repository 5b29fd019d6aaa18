from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """An append-only record of a state change: who did what to which object, from which state to which.

    Rows are written in the same transaction as the change they describe. A database trigger (see the
    migration ``audit_event_append_only``) refuses UPDATE and DELETE, so nobody, not even staff through
    the admin, can edit the history.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("操作人"),
    )
    action = models.CharField(_("动作"), max_length=64)
    target_type = models.CharField(_("对象类型"), max_length=64)
    target_id = models.CharField(_("对象编号"), max_length=64)
    from_state = models.CharField(_("原状态"), max_length=32, blank=True)
    to_state = models.CharField(_("新状态"), max_length=32, blank=True)
    reason = models.TextField(_("原因"), blank=True)
    data = models.JSONField(_("附加数据"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-created_at", "-id"]
        indexes = [
            # core.selectors.audit_trail: the history of one object, newest first.
            models.Index(
                fields=["target_type", "target_id", "-created_at"], name="audit_target_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target_type}:{self.target_id} {self.action}"
