from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from notifications import services
from notifications.models import Notification, NotificationPreference


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "recipient",
        "template",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "short_error",
    ]
    list_filter = ["status", "template", "created_at"]
    search_fields = ["recipient__email", "recipient__name", "event_key", "message_id"]
    list_select_related = ["recipient"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Notification._meta.fields]
    actions = ["requeue"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("最近错误"))
    def short_error(self, obj: Notification) -> str:
        return obj.last_error[:80]

    @admin.action(description=_("重新发送选中的失败或已取消邮件"))
    def requeue(self, request, queryset):
        count = services.notifications_requeue(ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext("已重新排队 %(count)d 封邮件。", "已重新排队 %(count)d 封邮件。", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "frequency", "min_score", "last_digest_at", "unsubscribed_at"]
    list_filter = ["frequency"]
    search_fields = ["user__email", "user__name"]
    autocomplete_fields = ["user"]
    filter_horizontal = ["fields"]
