from django.contrib import admin

from taxonomy.models import Field, Region, RegionGroup


@admin.register(Field)
class FieldAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "parent", "position"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["code", "name"]
    ordering = ["code"]


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "position"]
    list_filter = ["groups"]
    search_fields = ["name"]
    filter_horizontal = ["groups"]


@admin.register(RegionGroup)
class RegionGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "position"]
