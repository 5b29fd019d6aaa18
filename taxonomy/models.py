from django.db import models
from django.utils.translation import gettext_lazy as _


class Field(models.Model):
    """A technology field (领域) or, with a parent, a sub-field. Codes are stable: ``ic``, ``ic.design``."""

    code = models.SlugField(_("代码"), max_length=64, unique=True, allow_unicode=False)
    name = models.CharField(_("名称"), max_length=64)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("上级领域"),
    )
    position = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("技术领域")
        verbose_name_plural = _("技术领域")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        if self.parent_id:
            return f"{self.parent.name} / {self.name}"
        return self.name

    @property
    def top_code(self) -> str:
        return self.code.split(".", 1)[0]


class RegionGroup(models.Model):
    """A named grouping of provinces, e.g. 长三角."""

    name = models.CharField(_("名称"), max_length=32, unique=True)
    position = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Region(models.Model):
    """A province-level region."""

    name = models.CharField(_("名称"), max_length=32, unique=True)
    groups = models.ManyToManyField(
        RegionGroup, blank=True, related_name="regions", verbose_name=_("所属区域")
    )
    position = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("省份")
        verbose_name_plural = _("省份")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name
