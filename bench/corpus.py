"""Synthetic data for the matcher benchmarks, grown from the real dev split.

What is real and what is made up:

- **Real texts**: the 1,713 results and 229 demands of ``../shared/eval/dev`` (CSL paper
  metadata, read only), composed the way ``matching.matcher.documents`` composes them.
- **Real vectors**: those texts encoded once by the default model (``matching.matcher.embedding.encode``),
  cached in ``var/bench/`` under the model id and a hash of the texts.
- **Synthetic results** (for pools above 1,713): each is a *variant* of a real result ``a``: the
  title of ``a``, its abstract sentences lightly shuffled with one or two sentences of a partner
  ``b`` of the same discipline spliced in, and the keywords of ``a`` plus one of ``b``. Lengths and
  vocabulary are therefore those of real results.
- **Synthetic vectors** (``synth_vectors``): ``normalise(w·v_a + (1-w)·v_b + s·(v_r1 - v_r2))`` with
  ``a`` a real vector, ``b`` a real partner (same discipline 80 % of the time), ``w ~ U(0.55,
  0.95)``, and a perturbation along the difference of two other random real vectors (a direction
  the real data actually varies in, rather than isotropic noise), ``s ~ U(0.3, 0.7)``. The
  perturbation range was chosen so that 1,713 synthetic vectors have about the density of the
  1,713 real ones (mean nearest-neighbour cosine 0.90 vs 0.90, mean pairwise cosine 0.81 vs
  0.84); the ANN bench prints both so the check is repeated on every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_DIR = Path(os.environ.get("BENCH_EVAL_DIR", "../shared/eval/dev"))
CACHE_DIR = BASE_DIR / "var" / "bench"

_SENTENCE = re.compile(r"[^。！？；.!?;]+[。！？；.!?;]?")


# --- Machine state ---------------------------------------------------------------------------------


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_table(title: str, rows: list[dict]) -> None:
    """A plain aligned table of ``rows`` (same keys), then nothing else."""
    if not rows:
        return
    keys = list(rows[0])
    cells = [[str(r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    print(f"-- {title}")
    print("  ".join(k.rjust(w) for k, w in zip(keys, widths, strict=True)))
    for c in cells:
        print("  ".join(v.rjust(w) for v, w in zip(c, widths, strict=True)))
    print(flush=True)


# --- Real texts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultSpec:
    title: str
    abstract: str
    keywords: tuple[str, ...]
    discipline: str
    real: bool

    @property
    def text(self) -> str:
        # As matching.matcher.documents.result_doc composes it (no application fields in the dev data).
        parts = (self.title, self.abstract, "、".join(self.keywords))
        return "\n".join(p.strip() for p in parts if p and p.strip())


@dataclass(frozen=True)
class DemandSpec:
    title: str
    description: str
    category: str


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def dev_results() -> list[ResultSpec]:
    return [
        ResultSpec(
            title=r["title"][:120],
            abstract=r["abstract"],
            keywords=tuple(k[:32] for k in r.get("keywords") or ()),
            discipline=r.get("field") or "其他",
            real=True,
        )
        for r in _jsonl(DEV_DIR / "results.jsonl")
    ]


def dev_demands() -> list[DemandSpec]:
    return [
        DemandSpec(
            title=d["title"][:120], description=d["description"], category=d.get("field") or "工学"
        )
        for d in _jsonl(DEV_DIR / "demands.jsonl")
    ]


def demand_text(d: DemandSpec) -> str:
    # As matching.matcher.documents.need_doc composes a need with title + description only.
    return "\n".join(p.strip() for p in (d.title, d.description) if p and p.strip())


def discipline_categories() -> dict[str, str]:
    """Discipline (学科) of a result -> category (门类) of the demand it answers, from the qrels."""
    demands = {d["id"]: d.get("field") for d in _jsonl(DEV_DIR / "demands.jsonl")}
    results = {r["id"]: r.get("field") for r in _jsonl(DEV_DIR / "results.jsonl")}
    votes: dict[str, Counter] = {}
    for q in _jsonl(DEV_DIR / "qrels.jsonl"):
        demand = q.get("demand_id") or q.get("query_id") or q.get("demand")
        result = q.get("result_id") or q.get("doc_id") or q.get("result")
        if demand in demands and result in results and demands[demand] and results[result]:
            votes.setdefault(results[result], Counter())[demands[demand]] += 1
    return {disc: c.most_common(1)[0][0] for disc, c in votes.items()}


# --- Synthetic variants ---------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.findall(text) if s.strip()]


def synth_results(
    real: Sequence[ResultSpec], n: int, *, seed: int = 7
) -> tuple[list[ResultSpec], np.ndarray]:
    """``n`` results: the real ones first (as many as fit), then variants. Returns the specs and,
    per spec, ``(a, b, w)`` rows: the indexes of the real parents and the weight of ``a`` (for
    a real result, ``(i, i, 1.0)``)."""
    rng = random.Random(seed)
    by_disc: dict[str, list[int]] = {}
    for i, r in enumerate(real):
        by_disc.setdefault(r.discipline, []).append(i)
    specs = list(real[:n])
    parents = [(i, i, 1.0) for i in range(len(specs))]
    while len(specs) < n:
        ia = rng.randrange(len(real))
        a = real[ia]
        same = by_disc.get(a.discipline, [ia])
        ib = rng.choice(same) if rng.random() < 0.8 and len(same) > 1 else rng.randrange(len(real))
        b = real[ib]
        sa, sb = _sentences(a.abstract), _sentences(b.abstract)
        if len(sa) > 2:  # a light shuffle: swap two sentences after the first
            j, k = rng.sample(range(1, len(sa)), 2)
            sa[j], sa[k] = sa[k], sa[j]
        take = sb[: rng.randint(1, 2)] if sb else []
        cut = rng.randint(1, max(1, len(sa)))
        abstract = "".join(sa[:cut] + take + sa[cut:])
        keywords = tuple(dict.fromkeys(a.keywords + b.keywords[:1]))
        w = max(0.55, min(0.95, len("".join(sa)) / max(1, len(abstract))))
        specs.append(ResultSpec(a.title, abstract, keywords, a.discipline, real=False))
        parents.append((ia, ib, w))
    return specs, np.asarray(parents, dtype=np.float64)


def synth_vectors(base: np.ndarray, parents: np.ndarray, *, seed: int = 11) -> np.ndarray:
    """One vector per ``parents`` row (see the module docstring); real rows keep their vector."""
    rng = np.random.default_rng(seed)
    a = parents[:, 0].astype(int)
    b = parents[:, 1].astype(int)
    w = parents[:, 2:3]
    out = w * base[a] + (1.0 - w) * base[b]
    synthetic = a != b
    m = int(synthetic.sum())
    if m:
        r1 = rng.integers(0, len(base), m)
        r2 = rng.integers(0, len(base), m)
        s = rng.uniform(0.3, 0.7, (m, 1))
        out[synthetic] += s * (base[r1] - base[r2])
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    out[~synthetic] = base[a[~synthetic]]
    return out.astype(np.float32)


def density(vectors: np.ndarray) -> tuple[float, float]:
    """Mean cosine of each vector to its nearest other vector, and mean pairwise cosine."""
    sims = vectors @ vectors.T
    pairwise = float((sims.sum() - np.trace(sims)) / (len(sims) * (len(sims) - 1)))
    np.fill_diagonal(sims, -1.0)
    return float(sims.max(axis=1).mean()), pairwise


# --- Vectors of real texts (cached) ---------------------------------------------------------------


def encoded(texts: Sequence[str], *, kind: str, label: str) -> np.ndarray:
    """``matching.matcher.embedding.encode`` of ``texts``, cached per model id and text hash."""
    from matching.matcher import embedding

    digest = hashlib.sha256("\x00".join([embedding.model_id(), kind, *texts]).encode()).hexdigest()[
        :16
    ]
    path = CACHE_DIR / f"vectors-{label}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    started = time.perf_counter()
    vectors = embedding.encode(list(texts), kind=kind)
    print(
        f"   encoded {len(texts)} {label} texts in {time.perf_counter() - started:.1f} s "
        f"(cached in {path.relative_to(BASE_DIR)})",
        flush=True,
    )
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


# --- A scratch database ---------------------------------------------------------------------------


def database_url(db: dict) -> str:
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    if db["HOST"].startswith("/"):
        return f"postgresql://{auth}@/{db['NAME']}?host={db['HOST']}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{auth}@{db['HOST']}{port}/{db['NAME']}"


@contextlib.contextmanager
def scratch_database(name: str) -> Iterator[None]:
    """Create (migrated) database ``name`` on the configured server, point Django's connection at
    it, and drop it afterwards. The development database is never touched."""
    from django.db import connection

    # Mutate in place: Django filled this dict's other TEST keys (CHARSET, ...) at start-up.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, keepdb=False, serialize=False
    )
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A Redis of our own, with this process's Celery app and settings pointed at it."""
    from django.conf import settings

    from matchmaker.celery import app
    from matchmaker.embedded import free_port, start_redis

    redis_dir = Path(tempfile.mkdtemp(prefix="mm-bench-redis-"))
    redis_port = free_port()
    redis_proc = start_redis(redis_dir, redis_port)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    old = (settings.REDIS_URL, app.conf.broker_url, app.conf.result_backend)
    settings.REDIS_URL = app.conf.broker_url = app.conf.result_backend = redis_url
    try:
        yield redis_url
    finally:
        settings.REDIS_URL, app.conf.broker_url, app.conf.result_backend = old
        app.close()
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=10)


def reset_matcher_tables() -> None:
    """Empty the scratch database's matcher state and pool (and the per-version HNSW indexes)."""
    from django.db import connection

    from matching.matcher import engine

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'matching_embedding' "
            "AND indexname LIKE 'matching_emb_v%%_hnsw'"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        cursor.execute(
            "TRUNCATE matching_embeddingversion, matching_embedding, matching_lexicaldocument, "
            "matching_lexicalterm, matching_result, matching_need, matching_capabilityprofile CASCADE"
        )
    engine.clear_pool_samples()


@dataclass
class Cast:
    enterprise: object
    institution: object
    enterprise_user: object
    institution_user: object
    fields: dict[str, object]  # discipline or category name -> Field


def _credit_code(rng: random.Random) -> str:
    from accounts.validators import CREDIT_CODE_ALPHABET, credit_code_check_char

    body = "91320500" + "".join(rng.choices(CREDIT_CODE_ALPHABET, k=9))
    return body + credit_code_check_char(body)


def make_cast(disciplines: Sequence[str]) -> Cast:
    """An enterprise and an institution (verified, one owner each) and a field per category and
    per discipline (disciplines under their category)."""
    from django.utils import timezone

    from accounts.models import Membership, Organization, User
    from taxonomy.models import Field

    rng = random.Random(5)
    cats = discipline_categories()
    fields: dict[str, object] = {}
    for n, cat in enumerate(sorted(set(cats.values()) | {"工学", "理学", "农学", "医学"})):
        fields[cat], _ = Field.objects.get_or_create(code=f"bench-c{n}", defaults={"name": cat})
    for n, disc in enumerate(sorted(set(disciplines))):
        parent = fields[cats.get(disc, "工学")]
        fields[disc], _ = Field.objects.get_or_create(
            code=f"{parent.code}.d{n}", defaults={"name": disc[:64], "parent": parent}
        )
    people = []
    for kind, org_name in (("enterprise", "基准测试企业"), ("institution", "基准测试大学")):
        org = Organization.objects.filter(name=org_name, kind=kind).first()
        if org is None:  # reused across resets of the pool
            org = Organization.objects.create(
                name=org_name, kind=kind, credit_code=_credit_code(rng), verified_at=timezone.now()
            )
        user, created = User.objects.get_or_create(
            email=f"{kind}@bench.example.cn", defaults={"name": f"{org_name}联系人"}
        )
        if created:
            user.set_unusable_password()
            user.save()
        Membership.objects.get_or_create(
            user=user, organization=org, defaults={"role": Membership.Role.OWNER}
        )
        people.append((org, user))
    return Cast(people[0][0], people[1][0], people[0][1], people[1][1], fields)


def insert_results(cast: Cast, specs: Sequence[ResultSpec], *, chunk: int = 2000) -> list[int]:
    """Published results (bulk), in ``specs`` order; returns their ids."""
    from django.utils import timezone

    from matching.models import CoopMode, Result

    now = timezone.now()
    rng = random.Random(3)
    ids: list[int] = []
    for start in range(0, len(specs), chunk):
        rows = [
            Result(
                organization=cast.institution,
                created_by=cast.institution_user,
                title=s.title,
                abstract=s.abstract,
                keywords=list(s.keywords),
                field=cast.fields[s.discipline],
                trl=rng.randint(3, 8),
                transfer_modes=[CoopMode.LICENSE, CoopMode.JOINT_DEV],
                status=Result.Status.PUBLISHED,
                published_at=now,
            )
            for s in specs[start : start + chunk]
        ]
        ids += [r.pk for r in Result.objects.bulk_create(rows)]
    return ids


def copy_embeddings(
    version, kind: str, ids: Sequence[int], vectors: np.ndarray, texts: Sequence[str] | None
) -> None:
    """Insert vectors with COPY (binary); content hashes as ``index_docs`` would write them when
    ``texts`` are given (so those rows count as current), else a placeholder."""
    from django.db import connection
    from pgvector.psycopg import register_vector

    from matching.matcher.documents import content_hash

    connection.ensure_connection()
    raw = connection.connection
    register_vector(raw)
    with (
        raw.cursor() as cursor,
        cursor.copy(
            "COPY matching_embedding (version_id, kind, object_id, content_hash, vector, updated_at) "
            "FROM STDIN WITH (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(["int8", "varchar", "int8", "varchar", "vector", "timestamptz"])
        from django.utils import timezone

        now = timezone.now()
        for i, (object_id, vector) in enumerate(zip(ids, vectors, strict=True)):
            digest = content_hash(version.model_id, texts[i]) if texts is not None else "synthetic"
            copy.write_row([version.pk, kind, object_id, digest, vector, now])


def insert_lexical(kind: str, ids: Sequence[int], texts: Sequence[str]) -> None:
    """Lexical documents and document frequencies as ``matching.matcher.indexing`` keeps them."""
    from django.db import connection

    from matching.matcher.documents import content_hash
    from matching.matcher.indexing import tokens_for
    from matching.models import LexicalDocument, LexicalTerm

    df: Counter = Counter()
    rows = []
    for object_id, text in zip(ids, texts, strict=True):
        tokens = tokens_for(text)
        df.update(set(tokens))
        rows.append(
            LexicalDocument(
                kind=kind,
                object_id=object_id,
                tokens=tokens,
                length=len(tokens),
                content_hash=content_hash("lexical", text),
            )
        )
    LexicalDocument.objects.bulk_create(rows, batch_size=1000)
    LexicalTerm.objects.bulk_create(
        [LexicalTerm(kind=kind, term=t, df=n) for t, n in df.items()], batch_size=5000
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE matching_lexicaldocument; ANALYZE matching_lexicalterm")
