"""The matcher's state: embedding model versions, vectors, lexical documents and term frequencies.

These models belong to the ``matching`` app (its migrations); ``matching.models`` imports them so
Django registers them.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField


class ObjectKind(models.TextChoices):
    NEED = "need", _("需求")
    RESULT = "result", _("成果")
    CAPABILITY = "capability", _("研发能力")


class EmbeddingVersion(models.Model):
    """One embedding model's index. A model change builds a new version in the background; the
    matcher switches to it when every object has a vector in it."""

    class Status(models.TextChoices):
        BUILDING = "building", _("构建中")
        ACTIVE = "active", _("使用中")
        RETIRED = "retired", _("已停用")

    model_id = models.CharField(_("模型"), max_length=200, unique=True)
    model_name = models.CharField(
        _("模型名称或路径"),
        max_length=300,
        default="",
        help_text=_("加载该模型所用的 MATCHER_MODEL 值。"),
    )
    dimension = models.PositiveSmallIntegerField(_("维度"))
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.BUILDING
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    activated_at = models.DateTimeField(_("启用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("向量索引版本")
        verbose_name_plural = _("向量索引版本")
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="one_active_embedding_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_id} ({self.get_status_display()})"


class Embedding(models.Model):
    """The vector of one need, result or capability profile under one index version.

    ``vector`` has no fixed dimension in the column type so versions of different models can share
    the table; each version gets partial HNSW indexes on ``vector::vector(<dim>)`` (see
    ``matching.matcher.indexing.ensure_ann_indexes``)."""

    version = models.ForeignKey(
        EmbeddingVersion, on_delete=models.CASCADE, related_name="embeddings"
    )
    kind = models.CharField(max_length=16, choices=ObjectKind.choices)
    object_id = models.BigIntegerField()
    content_hash = models.CharField(max_length=64)
    vector = VectorField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("向量")
        verbose_name_plural = _("向量")
        constraints = [
            models.UniqueConstraint(
                fields=["version", "kind", "object_id"], name="embedding_unique_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_id} @ v{self.version_id}"


class LexicalDocument(models.Model):
    """Tokens of one object for BM25; document frequencies come from the GIN index on ``tokens``."""

    kind = models.CharField(max_length=16, choices=ObjectKind.choices)
    object_id = models.BigIntegerField()
    content_hash = models.CharField(max_length=64)
    tokens = ArrayField(models.CharField(max_length=64), default=list)
    length = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("词项文档")
        verbose_name_plural = _("词项文档")
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="lexical_document_unique")
        ]
        indexes = [
            # matching.lexical_store: candidate retrieval (tokens && query) and document frequencies.
            GinIndex(fields=["tokens"], name="lexical_tokens_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_id} ({self.length} tokens)"


class LexicalTerm(models.Model):
    """Document frequency of a token among one kind's lexical documents, kept up to date by
    ``matching.matcher.indexing`` as documents change, so BM25 needs no corpus scan per query."""

    kind = models.CharField(max_length=16, choices=ObjectKind.choices)
    term = models.CharField(max_length=64)
    df = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("词项")
        verbose_name_plural = _("词项")
        constraints = [models.UniqueConstraint(fields=["kind", "term"], name="lexical_term_unique")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.term} df={self.df}"


class ReindexBatch(models.Model):
    """One batch of a fanned-out rebuild (``matching.matcher.reindex``): the ids of one kind to
    embed and tokenise (stage ``index``), or the needs to re-match (stage ``match``), under one index
    version. A worker claims a batch (row lock, ``SKIP LOCKED``) before doing it and records when it
    finished, so however many workers share the ``reindex`` queue and however often a batch's task
    is delivered, each batch is done once; a rerun plans only ids no batch of the version holds."""

    class Stage(models.TextChoices):
        INDEX = "index", _("建索引")
        MATCH = "match", _("重新匹配")

    version = models.ForeignKey(
        EmbeddingVersion, on_delete=models.CASCADE, related_name="reindex_batches"
    )
    stage = models.CharField(_("阶段"), max_length=8, choices=Stage.choices)
    kind = models.CharField(_("类型"), max_length=16, choices=ObjectKind.choices)
    first_id = models.BigIntegerField()
    object_ids = ArrayField(models.BigIntegerField(), default=list)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    claimed_at = models.DateTimeField(_("领取时间"), null=True, blank=True)
    claimed_by = models.CharField(_("领取者"), max_length=200, blank=True, default="")
    claim_token = models.CharField(max_length=32, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(_("领取次数"), default=0)
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    computed = models.PositiveIntegerField(_("处理数"), default=0)

    class Meta:
        verbose_name = _("重建批次")
        verbose_name_plural = _("重建批次")
        constraints = [
            models.UniqueConstraint(
                fields=["version", "stage", "kind", "first_id"], name="reindex_batch_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["version", "stage", "done_at"], name="reindex_batch_progress"),
        ]

    def __str__(self) -> str:
        return f"{self.stage} {self.kind} from {self.first_id} ({len(self.object_ids)}) @ v{self.version_id}"


class RankingConfiguration(models.Model):
    """A ranking configuration of one embedding model: fusion weights and calibration refitted by
    ``manage.py tune_ranking`` (``matching.matcher.tuning``). At most one per model is active; the
    ranker reads it at run time (``matching.matcher.active``) and falls back to the shipped
    ``ranking.DEFAULT_CONFIG`` and ``matching/calibration.json`` when there is none."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("使用中")
        REJECTED = "rejected", _("未采用")
        RETIRED = "retired", _("已停用")

    model_id = models.CharField(_("模型"), max_length=200)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices)
    # ``ranking.RankingConfig.to_dict()``: the dense weight and the structured-fit weights.
    weights = models.JSONField(_("权重"), default=dict)
    # ``{"main": Calibration.to_dict(), "absolute": …}``.
    calibration = models.JSONField(_("校准"), default=dict)
    # Dev metrics of the current and this configuration, and the feedback used.
    evaluation = models.JSONField(_("评估"), default=dict)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    activated_at = models.DateTimeField(_("启用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("排序配置")
        verbose_name_plural = _("排序配置")
        constraints = [
            models.UniqueConstraint(
                fields=["model_id"],
                condition=Q(status="active"),
                name="one_active_ranking_configuration",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_id} #{self.pk} ({self.get_status_display()})"


class OrganizationRankingPreference(models.Model):
    """How much one organization's needs weigh each structured fit, learnt from the reasons of its
    不相关 feedback (``matching.matcher.preferences``): multipliers of the configured weights, each
    bounded to [``MIN_FACTOR``, ``MAX_FACTOR``]."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    factors = models.JSONField(_("权重系数"), default=dict)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("机构排序偏好")
        verbose_name_plural = _("机构排序偏好")

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.factors}"
