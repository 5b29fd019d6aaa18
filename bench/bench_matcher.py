"""Matcher speed (issue 5): encoding, ANN latency and recall, publish → matches, full reindex.

``make bench BENCH=bench_matcher`` runs every part; ``BENCH_MATCHER_PARTS`` picks some
(``encode,options,ann,publish,reindex``). Each part prints a table and one JSON line
(``{"bench": "matcher.<part>", ...}``); all lines are appended to ``var/bench/matcher.jsonl``.

1. ``encode``: texts/s of ``matching.matcher.embedding.encode`` against the bare
   ``SentenceTransformer.encode`` of the same loaded model on the same real dev result texts
   (same prompt and batch size), plus ``encode`` called per 32 texts as ``index_docs`` does.
2. ``options``: texts/s of copies of the default model at max_seq_length 128 / 256 / 512, with
   ``torch.set_num_threads(2)``, and with int8 dynamic quantisation of ``nn.Linear``; cosine
   agreement of each with the float model at 128 tokens on the same texts.
3. ``ann``: ``matching.matcher.engine.ann_candidates`` p50/p95 at each pool size, its SQL alone, its
   ``count(*)`` pre-query alone, recall@10 and @100 against exact search (the same SQL with
   ``SET LOCAL enable_indexscan = off``), an ``hnsw.ef_search`` sweep, and the index build time of
   ``matching.matcher.indexing.ensure_ann_indexes`` (default ``maintenance_work_mem``, then 1 GB). The pool
   is the 1,713 real dev vectors plus synthetic ones (``bench/corpus.py``); queries are the real
   dev demands encoded as queries.
4. ``publish``: a real ``celery worker`` subprocess (private Redis, scratch database): time from
   the commit of ``need_publish`` to the need's ``Match`` rows being visible, at a pool of 1,713
   real results (real vectors) + synthetic variants (synthetic texts and vectors, lexical
   documents built from those texts); the first publish (cold worker) is reported apart. Then an
   in-process breakdown of ``pipeline.match_need``.
5. ``reindex``: a full rebuild of the results' index at each size, embedding included:
   ``matching.matcher.reindex.index_kind("result")`` then ``complete_building_version()``. By default
   (``BENCH_MATCHER_REINDEX_MODE=model-change``) as a model change runs in production: the new
   model's version fills while a previous version serves, and its HNSW indexes are built when it
   is full; ``first`` measures the very first index instead (indexes present from the start, so
   every vector is inserted into the graph). The pool is the real results plus synthetic variants
   (real lengths and vocabulary); the 100k figure is a linear extrapolation from the two largest
   sizes.
6. ``fanout``: the same model-change rebuild through the ``reindex`` queue (one Celery task per
   batch, ``matching.tasks.start_reindex``) with 1 and then 2 worker processes sharing it
   (``BENCH_MATCHER_FANOUT_SIZE`` results, default 10000; ``BENCH_MATCHER_FANOUT_WORKERS``, default
   ``1,2``; ``BENCH_MATCHER_FANOUT_BATCH``, default 256), and the extrapolation to 100k and 1M
   results on N machines like this one (batches scale with machines; the chord callback, mostly
   the HNSW build, runs once). During each run (``BENCH_MATCHER_FANOUT_LIVE_ON=last``: the last
   only) a live worker (queue ``celery``) matches up to ``BENCH_MATCHER_FANOUT_LIVE`` (20) needs
   published one a second while the batches run: publish → matches p50/p95 while a reindex runs.

Everything database-side runs in a scratch database ``bench_matcher`` on the configured server
(created, migrated, dropped at the end). Knobs (defaults): ``BENCH_MATCHER_ENCODE_N`` (300),
``BENCH_MATCHER_OPTIONS_N`` (200), ``BENCH_MATCHER_ANN_SIZES`` (10000,100000),
``BENCH_MATCHER_QUERIES`` (200), ``BENCH_MATCHER_POOL`` (10000), ``BENCH_MATCHER_PUBLISHES`` (30),
``BENCH_MATCHER_REINDEX_SIZES`` (10000,20000), ``BENCH_MATCHER_HNSW_VARIANTS`` (``auto``: try
m=16/ef_construction=128 and m=24/128 only when the default misses a target; or a list like
``16:128,24:200``; or ``none``, which also skips the 64 MB ``maintenance_work_mem`` comparison
build at 50k and more).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from bench import corpus

BASE_DIR = Path(__file__).resolve().parent.parent
OUT = BASE_DIR / "var" / "bench" / "matcher.jsonl"
ALL_PARTS = ("encode", "options", "ann", "publish", "reindex", "fanout")
ANN_P95_TARGET_MS = 20.0
RECALL_TARGET = 0.95
PUBLISH_P50_TARGET_S = 1.0
REINDEX_100K_TARGET_S = 15 * 60


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_sizes(name: str, default: str) -> list[int]:
    return [int(x) for x in os.environ.get(name, default).split(",") if x.strip()]


def _emit(part: str, figures: dict) -> dict:
    line = {"bench": f"matcher.{part}", "when": time.strftime("%Y-%m-%d %H:%M:%S"), **figures}
    print(json.dumps(line, ensure_ascii=False), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return line


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@contextlib.contextmanager
def _patched(module, name: str, wrapper: Callable[[Callable], Callable]) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, wrapper(original))
    try:
        yield
    finally:
        setattr(module, name, original)


def _timed(bucket: dict, key: str) -> Callable[[Callable], Callable]:
    def wrap(fn: Callable) -> Callable:
        def inner(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                bucket[key] = bucket.get(key, 0.0) + time.perf_counter() - started

        return inner

    return wrap


# --- 1. encode() against the bare SentenceTransformer ---------------------------------------------


def bench_encode() -> dict:
    from matching.matcher import embedding

    n = _env_int("BENCH_MATCHER_ENCODE_N", 300)
    texts = [s.text for s in corpus.dev_results()][:n]
    model = embedding.get_model()
    load = corpus.load_average()

    def via_encode() -> None:
        embedding.encode(texts, kind="document")

    def bare() -> None:
        model.encode(
            texts,
            prompt_name="document",
            batch_size=32,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def per_batch() -> None:  # as matching.matcher.indexing.index_docs calls it
        for start in range(0, len(texts), 32):
            embedding.encode(texts[start : start + 32], kind="document")

    embedding.encode(texts[:16], kind="document")  # warm-up
    runs: dict[str, list[float]] = {"bare": [], "encode": [], "encode_per_32": []}
    for round_ in range(2):  # alternate the order so drift in load hits both
        order = [("bare", bare), ("encode", via_encode), ("encode_per_32", per_batch)]
        for name, fn in order if round_ == 0 else reversed(order):
            started = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - started)
    best = {k: min(v) for k, v in runs.items()}
    rows = [
        {
            "variant": k,
            "texts": n,
            "best_s": round(v, 2),
            "runs_s": " ".join(f"{x:.2f}" for x in runs[k]),
            "texts_per_s": round(n / v, 1),
        }
        for k, v in best.items()
    ]
    corpus.print_table("encode(): wrapper vs bare SentenceTransformer.encode", rows)
    return _emit(
        "encode",
        {
            "texts": n,
            "chars_mean": round(sum(map(len, texts)) / n),
            "load_before": load,
            "load_after": corpus.load_average(),
            "bare_texts_per_s": round(n / best["bare"], 2),
            "encode_texts_per_s": round(n / best["encode"], 2),
            "encode_per_32_texts_per_s": round(n / best["encode_per_32"], 2),
            "encode_over_bare_time_ratio": round(best["encode"] / best["bare"], 3),
        },
    )


# --- 2. Encode options: sequence length, threads, int8 ----------------------------------------------


def bench_options() -> dict:
    import torch

    from matching.matcher import embedding

    n = _env_int("BENCH_MATCHER_OPTIONS_N", 200)
    texts = [s.text for s in corpus.dev_results()][:n]
    base = embedding.get_model()
    default_threads = torch.get_num_threads()
    load = corpus.load_average()

    def variant(max_len: int, *, int8: bool = False):
        model = copy.deepcopy(base)
        model.max_seq_length = max_len
        if int8:
            model = torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear}, dtype=torch.qint8
            )
        return model

    def run(model, threads: int | None = None) -> tuple[float, np.ndarray]:
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            model.encode(texts[:8], prompt_name="document", show_progress_bar=False)
            started = time.perf_counter()
            vectors = model.encode(
                texts,
                prompt_name="document",
                batch_size=32,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return time.perf_counter() - started, np.asarray(vectors, dtype=np.float32)
        finally:
            torch.set_num_threads(default_threads)

    tokenizer = base.tokenizer
    lengths = [len(tokenizer("passage: " + t)["input_ids"]) for t in texts]
    specs = [
        ("float @128 (default)", lambda: variant(128), None),
        ("float @128, set_num_threads(2)", lambda: variant(128), 2),
        ("float @256", lambda: variant(256), None),
        ("float @512", lambda: variant(512), None),
        ("int8 @128", lambda: variant(128, int8=True), None),
        ("int8 @256", lambda: variant(256, int8=True), None),
    ]
    results: dict[str, tuple[float, np.ndarray]] = {}
    for name, make, threads in specs:
        results[name] = run(make(), threads)
    reference = results["float @128 (default)"][1]
    rows = []
    for name, (seconds, vectors) in results.items():
        cos = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True) * reference).sum(1)
        rows.append(
            {
                "variant": name,
                "texts_per_s": round(n / seconds, 1),
                "seconds": round(seconds, 1),
                "cos_vs_float128_mean": round(float(cos.mean()), 4),
                "cos_vs_float128_min": round(float(cos.min()), 4),
            }
        )
    corpus.print_table(
        f"encode options ({n} real result texts; torch default threads {default_threads}; "
        f"tokens/text median {int(np.median(lengths))}, {np.mean(np.asarray(lengths) > 128):.0%} over 128)",
        rows,
    )
    fastest = max(rows, key=lambda r: r["texts_per_s"])
    return _emit(
        "options",
        {
            "texts": n,
            "torch_default_threads": default_threads,
            "load_before": load,
            "load_after": corpus.load_average(),
            "tokens_median": int(np.median(lengths)),
            "share_over_128_tokens": round(float(np.mean(np.asarray(lengths) > 128)), 3),
            "share_over_256_tokens": round(float(np.mean(np.asarray(lengths) > 256)), 3),
            "variants": rows,
            "fastest": fastest["variant"],
            "fastest_cos_vs_float_mean": fastest["cos_vs_float128_mean"],
        },
    )


# --- 3. ANN latency and recall ----------------------------------------------------------------------


def _ann_sql(
    version, kind: str, qvec: np.ndarray, k: int, *, ef: int | None, exact: bool
) -> list[int]:
    """The ORDER BY query of ``engine.ann_candidates`` (same SQL, default filters)."""
    from django.db import connection, transaction

    from matching.matcher import engine

    dim = int(version.dimension)
    join, where, params = engine.Filters().sql(kind)
    with transaction.atomic(), connection.cursor() as cursor:
        if exact:
            cursor.execute("SET LOCAL enable_indexscan = off")
        elif ef is not None:
            cursor.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")
        cursor.execute(
            f"SELECT e.object_id FROM matching_embedding e {join} "  # noqa: S608 - same as engine
            f"WHERE e.version_id = %s AND e.kind = %s AND {where} "
            f"ORDER BY (e.vector::vector({dim})) <=> %s::vector({dim}) LIMIT %s",
            [version.pk, kind, *params, engine.vector_literal(qvec), k],
        )
        return [row[0] for row in cursor.fetchall()]


def _count_sql(version, kind: str, *, bounded: bool = False) -> int:
    """The ``count(*)`` pre-query of ``engine.ann_candidates``; ``bounded`` stops counting past
    ``EXACT_SEARCH_MAX`` (all the caller needs to know), as ``ann_candidates`` now counts on its
    first call per process (later calls know the pool is large and skip counting)."""
    from django.db import connection

    from matching.matcher import engine

    join, where, params = engine.Filters().sql(kind)
    inner = f"FROM matching_embedding e {join} WHERE e.version_id = %s AND e.kind = %s AND {where}"
    if bounded:
        sql = f"SELECT count(*) FROM (SELECT 1 {inner} LIMIT {engine.EXACT_SEARCH_MAX + 1}) s"  # noqa: S608
    else:
        sql = f"SELECT count(*) {inner}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [version.pk, kind, *params])
        return cursor.fetchone()[0]


def _plan(version, kind: str, qvec: np.ndarray, ef: int) -> str:
    from django.db import connection, transaction

    from matching.matcher import engine

    dim = int(version.dimension)
    join, where, params = engine.Filters().sql(kind)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")
        cursor.execute(
            f"EXPLAIN SELECT e.object_id FROM matching_embedding e {join} "  # noqa: S608
            f"WHERE e.version_id = %s AND e.kind = %s AND {where} "
            f"ORDER BY (e.vector::vector({dim})) <=> %s::vector({dim}) LIMIT %s",
            [version.pk, kind, *params, engine.vector_literal(qvec), 100],
        )
        return "\n".join(r[0] for r in cursor.fetchall())


def _latencies(
    fn: Callable[[np.ndarray], list[int]], queries: np.ndarray
) -> tuple[list[float], list[list[int]]]:
    times, outputs = [], []
    for q in queries:
        started = time.perf_counter()
        outputs.append(fn(q))
        times.append(time.perf_counter() - started)
    return times, outputs


def _recall(approx: list[list[int]], exact: list[list[int]], k: int) -> float:
    return float(
        np.mean(
            [
                len(set(a[:k]) & set(e[:k])) / max(1, min(k, len(e)))
                for a, e in zip(approx, exact, strict=True)
            ]
        )
    )


def _build_index(
    version, kind: str, *, m: int | None, ef_construction: int | None, mwm: str | None
) -> float:
    """(Re)build the result HNSW index like ``ensure_ann_indexes`` (same name, expression,
    predicate), optionally with other parameters or ``maintenance_work_mem``."""
    from django.db import connection

    from matching.matcher import indexing

    name = f"matching_emb_v{version.pk}_{kind}_hnsw"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {name}")
        if mwm:
            cursor.execute(f"SET maintenance_work_mem = '{mwm}'")
        started = time.perf_counter()
        if m is None:
            indexing.ensure_ann_indexes(version)
        else:
            cursor.execute(
                f"CREATE INDEX {name} ON matching_embedding "
                f"USING hnsw ((vector::vector({int(version.dimension)})) vector_cosine_ops) "
                f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
                f"WHERE version_id = {int(version.pk)} AND kind = '{kind}'"
            )
        seconds = time.perf_counter() - started
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("ANALYZE matching_embedding")
    return seconds


def _measure_ann(
    version, queries: np.ndarray, exact10: list[list[int]], exact100: list[list[int]], ef: int
) -> dict:
    times, out = _latencies(
        lambda q: _ann_sql(version, "result", q, 100, ef=ef, exact=False), queries
    )
    return {
        "ef_search": ef,
        "p50_ms": _ms(statistics.median(times)),
        "p95_ms": _ms(corpus.percentile(times, 0.95)),
        "recall10": round(_recall(out, exact10, 10), 4),
        "recall100": round(_recall(out, exact100, 100), 4),
    }


def bench_ann() -> list[dict]:
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from matching.matcher import embedding, engine
    from matching.models import EmbeddingVersion

    real = corpus.dev_results()
    base = corpus.encoded([s.text for s in real], kind="document", label="dev-results")
    demands = corpus.dev_demands()
    queries = corpus.encoded(
        [corpus.demand_text(d) for d in demands], kind="query", label="dev-demands"
    )
    queries = queries[: _env_int("BENCH_MATCHER_QUERIES", 200)]
    variants_env = os.environ.get("BENCH_MATCHER_HNSW_VARIANTS", "auto")
    lines = []
    for size in _env_sizes("BENCH_MATCHER_ANN_SIZES", "10000,100000"):
        load_before = corpus.load_average()
        corpus.reset_matcher_tables()
        cast = corpus.make_cast([s.discipline for s in real])
        started = time.perf_counter()
        specs, parents = corpus.synth_results(real, size)
        vectors = corpus.synth_vectors(base, parents)
        ids = corpus.insert_results(cast, specs)
        version = EmbeddingVersion.objects.create(
            model_id=embedding.model_id(),
            model_name="",
            dimension=base.shape[1],
            status=EmbeddingVersion.Status.ACTIVE,
            activated_at=timezone.now(),
        )
        corpus.copy_embeddings(version, "result", ids, vectors, None)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE matching_embedding; ANALYZE matching_result")
        load_seconds = time.perf_counter() - started
        synthetic = vectors[len(real) :]
        real_nn, real_pair = corpus.density(base)
        density = {"nn_cos_real": round(real_nn, 4), "pair_cos_real": round(real_pair, 4)}
        if len(synthetic) >= len(base):
            synth_nn, synth_pair = corpus.density(synthetic[: len(base)])
            density |= {
                "nn_cos_synthetic": round(synth_nn, 4),
                "pair_cos_synthetic": round(synth_pair, 4),
            }
        print(f"   pool of {size:,}: loaded in {load_seconds:.1f} s; density {density}", flush=True)
        build_default = _build_index(version, "result", m=None, ef_construction=None, mwm=None)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_relation_size(%s::regclass)", [f"matching_emb_v{version.pk}_result_hnsw"]
            )
            index_mb = round(cursor.fetchone()[0] / 2**20, 1)
        plan = _plan(version, "result", queries[0], engine.HNSW_EF_SEARCH)
        uses_hnsw = "hnsw" in plan

        # Exact answers (the same SQL without the index).
        exact_times, exact100 = _latencies(
            lambda q, v=version: _ann_sql(v, "result", q, 100, ef=None, exact=True), queries
        )
        exact10 = [e[:10] for e in exact100]
        # The production function, then its two statements apart.
        for q in queries[:5]:
            engine.ann_candidates(version, "result", q)
        full_times, full_out = _latencies(
            lambda q, v=version: engine.ann_candidates(v, "result", q), queries
        )

        def first_call(q, v=version):
            engine.clear_pool_samples()  # forget that the pool is large: count again
            return engine.ann_candidates(v, "result", q)

        first_times, _ = _latencies(first_call, queries)
        count_times, _ = _latencies(lambda q, v=version: [_count_sql(v, "result")], queries)
        bounded_times, _ = _latencies(
            lambda q, v=version: [_count_sql(v, "result", bounded=True)], queries
        )
        sweep = [_measure_ann(version, queries, exact10, exact100, ef) for ef in (100, 200, 400)]
        production = next(r for r in sweep if r["ef_search"] == engine.HNSW_EF_SEARCH)
        rows = [
            {
                "query": "engine.ann_candidates (as a worker calls it)",
                "p50_ms": _ms(statistics.median(full_times)),
                "p95_ms": _ms(corpus.percentile(full_times, 0.95)),
                "recall10": round(_recall(full_out, exact10, 10), 4),
                "recall100": round(_recall(full_out, exact100, 100), 4),
            },
            {
                "query": "  first call in a process (bounded count + ANN)",
                "p50_ms": _ms(statistics.median(first_times)),
                "p95_ms": _ms(corpus.percentile(first_times, 0.95)),
                "recall10": "",
                "recall100": "",
            },
            {
                "query": "  count(*) of the whole pool (before the fix)",
                "p50_ms": _ms(statistics.median(count_times)),
                "p95_ms": _ms(corpus.percentile(count_times, 0.95)),
                "recall10": "",
                "recall100": "",
            },
            {
                "query": "  count(*) bounded at EXACT_SEARCH_MAX+1",
                "p50_ms": _ms(statistics.median(bounded_times)),
                "p95_ms": _ms(corpus.percentile(bounded_times, 0.95)),
                "recall10": "",
                "recall100": "",
            },
            *[
                {
                    "query": f"  ANN SQL, ef_search {r['ef_search']}",
                    "p50_ms": r["p50_ms"],
                    "p95_ms": r["p95_ms"],
                    "recall10": r["recall10"],
                    "recall100": r["recall100"],
                }
                for r in sweep
            ],
            {
                "query": "exact (enable_indexscan = off)",
                "p50_ms": _ms(statistics.median(exact_times)),
                "p95_ms": _ms(corpus.percentile(exact_times, 0.95)),
                "recall10": 1.0,
                "recall100": 1.0,
            },
        ]
        p95_full = _ms(corpus.percentile(full_times, 0.95))
        recall_full = round(_recall(full_out, exact10, 10), 4)
        missed = p95_full > ANN_P95_TARGET_MS or recall_full < RECALL_TARGET

        builds = [
            {
                "m": 16,
                "ef_construction": 64,
                "maintenance_work_mem": f"{settings.MATCHER_INDEX_BUILD_MEMORY} (ensure_ann_indexes)",
                "build_s": round(build_default, 1),
                **{k: production[k] for k in ("p50_ms", "p95_ms", "recall10", "recall100")},
            }
        ]
        if size >= 50000 and variants_env != "none":
            # PostgreSQL's default maintenance_work_mem, for comparison.
            seconds = _build_index(version, "result", m=16, ef_construction=64, mwm="64MB")
            r = _measure_ann(version, queries, exact10, exact100, engine.HNSW_EF_SEARCH)
            builds.append(
                {
                    "m": 16,
                    "ef_construction": 64,
                    "maintenance_work_mem": "64MB (PostgreSQL default)",
                    "build_s": round(seconds, 1),
                    **{k: r[k] for k in ("p50_ms", "p95_ms", "recall10", "recall100")},
                }
            )
        if variants_env == "auto":
            variants = [(16, 128), (24, 128)] if missed else []
        elif variants_env == "none":
            variants = []
        else:
            variants = [tuple(int(x) for x in v.split(":")) for v in variants_env.split(",")]
        for m, efc in variants:
            seconds = _build_index(version, "result", m=m, ef_construction=efc, mwm="1GB")
            for ef in (100, 200):
                r = _measure_ann(version, queries, exact10, exact100, ef)
                builds.append(
                    {
                        "m": m,
                        "ef_construction": efc,
                        "maintenance_work_mem": "1GB",
                        "build_s": round(seconds, 1),
                        "ef_search": ef,
                        **{k: r[k] for k in ("p50_ms", "p95_ms", "recall10", "recall100")},
                    }
                )
        corpus.print_table(
            f"ANN at {size:,} results ({len(queries)} real demand queries, k=100; plan uses HNSW: {uses_hnsw}; "
            f"load {load_before})",
            rows,
        )
        corpus.print_table(
            f"HNSW builds at {size:,} results (search at ef_search 200 unless noted)", builds
        )
        lines.append(
            _emit(
                "ann",
                {
                    "results": size,
                    "real_results": min(size, len(real)),
                    "queries": len(queries),
                    "load_before": load_before,
                    "load_after": corpus.load_average(),
                    "pool_load_seconds": round(load_seconds, 1),
                    "index_mb": index_mb,
                    "plan_uses_hnsw": uses_hnsw,
                    **density,
                    "ann_candidates_p50_ms": _ms(statistics.median(full_times)),
                    "ann_candidates_p95_ms": p95_full,
                    "first_call_p50_ms": _ms(statistics.median(first_times)),
                    "first_call_p95_ms": _ms(corpus.percentile(first_times, 0.95)),
                    "count_p50_ms": _ms(statistics.median(count_times)),
                    "count_p95_ms": _ms(corpus.percentile(count_times, 0.95)),
                    "bounded_count_p50_ms": _ms(statistics.median(bounded_times)),
                    "recall10": recall_full,
                    "recall100": round(_recall(full_out, exact100, 100), 4),
                    "exact_p50_ms": _ms(statistics.median(exact_times)),
                    "exact_p95_ms": _ms(corpus.percentile(exact_times, 0.95)),
                    "ef_search_sweep": sweep,
                    "builds": builds,
                    "target_met": not missed,
                },
            )
        )
    corpus.reset_matcher_tables()
    return lines


# --- 4. Publish → matches with a real worker --------------------------------------------------------


def _start_worker(env: dict, log_path: Path) -> subprocess.Popen:
    from django.conf import settings

    from matchmaker.celery import app, worker_command

    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    proc = subprocess.Popen(
        worker_command(
            hostname=f"bench-matcher-{os.getpid()}@%h",
            queues=[settings.CELERY_TASK_DEFAULT_QUEUE],
            private=True,
        ),
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited; see {log_path}")
        if app.control.ping(timeout=0.5):
            return proc
    raise RuntimeError(f"worker not ready; see {log_path}")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _build_pool(size: int):
    """``size`` published results indexed as ``index_docs`` leaves them, without encoding the
    synthetic ones: real results carry their real vectors, variants synthetic vectors."""
    from django.db import connection

    from matching.matcher import indexing

    real = corpus.dev_results()
    base = corpus.encoded([s.text for s in real], kind="document", label="dev-results")
    corpus.reset_matcher_tables()
    cast = corpus.make_cast([s.discipline for s in real])
    specs, parents = corpus.synth_results(real, size)
    vectors = corpus.synth_vectors(base, parents)
    ids = corpus.insert_results(cast, specs)
    version = indexing.version_for_current_model()  # as in production: empty HNSW indexes first
    texts = [s.text for s in specs]
    corpus.copy_embeddings(version, "result", ids, vectors, texts)
    corpus.insert_lexical("result", ids, texts)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE matching_embedding; ANALYZE matching_result")
    return cast, version


def _new_needs(cast, demands) -> list:
    from matching.models import CoopMode, Need

    return [
        Need.objects.create(
            organization=cast.enterprise,
            created_by=cast.enterprise_user,
            title=d.title,
            description=d.description,
            field=cast.fields[d.category],
            coop_modes=[CoopMode.JOINT_DEV],
            trl_min=4,
            status=Need.Status.DRAFT,
        )
        for d in demands
    ]


def _publish_and_wait(need, actor, timeout: float = 180.0) -> float:
    from django.db import transaction

    from matching.catalogue import services
    from matching.models import Match

    marks: list[float] = []
    with transaction.atomic():
        transaction.on_commit(lambda: marks.append(time.perf_counter()))  # runs before the enqueue
        services.need_publish(need=need, actor=actor)
    deadline = time.monotonic() + timeout
    while not Match.objects.filter(need_id=need.pk).exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no matches for need {need.pk} within {timeout} s")
        time.sleep(0.005)
    return time.perf_counter() - marks[0]


def _task_runtimes(log_path: Path) -> list[float]:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return [
        float(x)
        for x in re.findall(r"matching\.index_and_match\[[^\]]+\] succeeded in ([0-9.]+)s", text)
    ]


def _breakdown(needs) -> dict:
    """Where ``pipeline.match_need`` spends its time (in this process, warm, after the worker)."""
    from matching.matcher import engine, explain, indexing, pipeline
    from matching.matcher.documents import need_doc

    bucket: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        for module, name, key in (
            (engine, "ann_candidates", "ann_candidates"),
            (engine, "lexical_candidates", "lexical_candidates"),
            (engine, "lexical_stats", "lexical_stats"),
            (engine, "dense_similarities", "dense_similarities"),
            (engine, "load_objects", "load_objects"),
            (engine, "pool_sample", "pool_sample"),
            (explain, "explain", "explain"),
            (pipeline, "store_matches", "store_matches"),
            (engine, "rank", "rank_total"),
        ):
            stack.enter_context(_patched(module, name, _timed(bucket, key)))
        pipeline.match_need(needs[0])  # warm (pool sample etc.)
        bucket.clear()
        started = time.perf_counter()
        for need in needs:
            pipeline.match_need(need)
        total = time.perf_counter() - started
    started = time.perf_counter()
    for need in needs:
        indexing.encode_for(indexing.serving_version(), [need_doc(need).text], kind="query")
    encode_one = (time.perf_counter() - started) / len(needs)
    per_need = {k: _ms(v / len(needs)) for k, v in sorted(bucket.items())}
    return {
        "match_need_ms": _ms(total / len(needs)),
        **per_need,
        "encode_one_need_ms": _ms(encode_one),
    }


def bench_publish() -> dict:
    from django.conf import settings
    from django.db import connection

    from matchmaker.celery import app
    from matchmaker.embedded import free_port, start_redis

    size = _env_int("BENCH_MATCHER_POOL", 10000)
    publishes = _env_int("BENCH_MATCHER_PUBLISHES", 30)
    load_before = corpus.load_average()
    started = time.perf_counter()
    cast, _version = _build_pool(size)
    pool_seconds = time.perf_counter() - started
    demands = corpus.dev_demands()[: publishes + 1]
    needs = _new_needs(cast, demands)

    redis_dir = Path(tempfile.mkdtemp(prefix="mm-bench-matcher-redis-"))
    redis_port = free_port()
    redis_proc = start_redis(redis_dir, redis_port)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    old = (settings.REDIS_URL, app.conf.broker_url, app.conf.result_backend)
    settings.REDIS_URL = app.conf.broker_url = app.conf.result_backend = redis_url
    log_path = Path(tempfile.gettempdir()) / f"mm-bench-matcher-worker-{os.getpid()}.log"
    log_path.unlink(missing_ok=True)
    worker = None
    try:
        env = {
            **os.environ,
            "DATABASE_URL": corpus.database_url(connection.settings_dict),
            "REDIS_URL": redis_url,
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        }
        worker = _start_worker(env, log_path)
        cold = _publish_and_wait(needs[0], cast.enterprise_user)
        latencies = [_publish_and_wait(need, cast.enterprise_user) for need in needs[1:]]
        time.sleep(0.5)
        runtimes = _task_runtimes(log_path)
    finally:
        _stop(worker)
        settings.REDIS_URL, app.conf.broker_url, app.conf.result_backend = old
        app.close()  # forget the pool bound to the private Redis
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=10)
    load_mid = corpus.load_average()
    breakdown = _breakdown(needs[1:6])
    warm_runtimes = runtimes[1:]
    figures = {
        "pool_results": size,
        "real_results": min(size, 1713),
        "publishes": len(latencies),
        "load_before": load_before,
        "load_after_worker": load_mid,
        "load_after": corpus.load_average(),
        "pool_build_seconds": round(pool_seconds, 1),
        "cold_first_publish_s": round(cold, 3),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(corpus.percentile(latencies, 0.95), 3),
        "max_s": round(max(latencies), 3),
        "task_runtime_p50_s": round(statistics.median(warm_runtimes), 3) if warm_runtimes else None,
        "task_runtime_p95_s": round(corpus.percentile(warm_runtimes, 0.95), 3)
        if warm_runtimes
        else None,
        "target_met": statistics.median(latencies) <= PUBLISH_P50_TARGET_S,
        "match_need_breakdown_ms": breakdown,
    }
    corpus.print_table(
        f"publish -> matches, real worker, {size:,}-result pool (load {load_before})",
        [
            {
                "what": "cold first publish (model load in the worker)",
                "seconds": figures["cold_first_publish_s"],
            },
            {"what": f"p50 of {len(latencies)} warm publishes", "seconds": figures["p50_s"]},
            {"what": "p95", "seconds": figures["p95_s"]},
            {"what": "max", "seconds": figures["max_s"]},
            {"what": "task runtime p50 (worker log)", "seconds": figures["task_runtime_p50_s"]},
            {"what": "task runtime p95 (worker log)", "seconds": figures["task_runtime_p95_s"]},
        ],
    )
    corpus.print_table(
        "pipeline.match_need breakdown, ms per need (in process, warm)",
        [{"step": k, "ms": v} for k, v in breakdown.items()],
    )
    corpus.reset_matcher_tables()
    return _emit("publish", figures)


# --- 5. Full reindex -------------------------------------------------------------------------------


def bench_reindex() -> dict:
    from django.utils import timezone

    from matching.matcher import embedding, indexing, reindex
    from matching.matcher.documents import doc_for, load_objects
    from matching.models import EmbeddingVersion

    # "model-change" (default): what a full rebuild is in production, a new model's version
    # filled while the old one serves, its HNSW indexes built once it is full, then switched to.
    # "first": the very first index, active (indexes present) from its first vector.
    mode = os.environ.get("BENCH_MATCHER_REINDEX_MODE", "model-change")

    real = corpus.dev_results()
    embedding.encode(["预热：加载模型"], kind="document")  # model load is not part of a reindex
    rows = []
    for size in _env_sizes("BENCH_MATCHER_REINDEX_SIZES", "10000,20000"):
        load_before = corpus.load_average()
        corpus.reset_matcher_tables()
        cast = corpus.make_cast([s.discipline for s in real])
        specs, _parents = corpus.synth_results(real, size)
        ids = corpus.insert_results(cast, specs)
        if mode == "model-change":
            # The previous model's version serves and is current (every vector and lexical
            # document in place, as before a model change); the configured model's is built.
            objects = load_objects("result", ids)
            texts = [doc_for("result", objects[i]).text for i in ids]
            previous = EmbeddingVersion.objects.create(
                model_id="bench:previous-model",
                model_name=embedding.default_model_name(),
                dimension=embedding.dimension(),
                status=EmbeddingVersion.Status.ACTIVE,
                activated_at=timezone.now(),
            )
            previous_vectors = np.random.default_rng(size).standard_normal(
                (len(ids), previous.dimension)
            )
            previous_vectors /= np.linalg.norm(previous_vectors, axis=1, keepdims=True)
            corpus.copy_embeddings(
                previous, "result", ids, previous_vectors.astype(np.float32), texts
            )
            corpus.insert_lexical("result", ids, texts)
        bucket: dict[str, float] = {}
        with (
            _patched(embedding, "encode", _timed(bucket, "encode")),
            _patched(indexing, "ensure_ann_indexes", _timed(bucket, "hnsw_build")),
        ):
            started = time.perf_counter()
            computed = reindex.index_kind("result")
            activated = reindex.complete_building_version()
            seconds = time.perf_counter() - started
        if mode == "model-change" and not activated:
            raise RuntimeError("the rebuilt version was not activated")
        rows.append(
            {
                "mode": mode,
                "results": size,
                "embedded": computed,
                "total_s": round(seconds, 1),
                "encode_s": round(bucket.get("encode", 0.0), 1),
                "hnsw_build_s": round(bucket.get("hnsw_build", 0.0), 1),
                "rest_s": round(
                    seconds - bucket.get("encode", 0.0) - bucket.get("hnsw_build", 0.0), 1
                ),
                "results_per_s": round(size / seconds, 1),
                "load_before": load_before,
                "load_after": corpus.load_average(),
            }
        )
        print(f"   reindex {size}: {rows[-1]}", flush=True)
    corpus.reset_matcher_tables()
    if len(rows) >= 2:
        (n1, t1), (n2, t2) = [(r["results"], r["total_s"]) for r in rows[-2:]]
        slope = (t2 - t1) / (n2 - n1)
        estimate = t2 + slope * (100_000 - n2)
        how = f"linear through {n1:,} and {n2:,}"
    if len(rows) < 2 or slope <= 0:
        estimate = rows[-1]["total_s"] * 100_000 / rows[-1]["results"]
        how = f"proportional from {rows[-1]['results']:,}"
    measured_100k = next((r["total_s"] for r in rows if r["results"] == 100_000), None)
    corpus.print_table(
        f"full reindex of results (index_kind, embedding included); 100k {how}: "
        f"{estimate / 60:.1f} min",
        rows,
    )
    final = measured_100k if measured_100k is not None else estimate
    return _emit(
        "reindex",
        {
            "runs": rows,
            "estimate_100k_s": round(estimate),
            "estimate_method": how,
            "measured_100k_s": measured_100k,
            "target_met": final <= REINDEX_100K_TARGET_S,
        },
    )


def main() -> None:
    parts = [
        p.strip()
        for p in os.environ.get("BENCH_MATCHER_PARTS", ",".join(ALL_PARTS)).split(",")
        if p.strip()
    ]
    print(f"   load average at start: {corpus.load_average()}", flush=True)
    if "encode" in parts:
        bench_encode()
    if "options" in parts:
        bench_options()
    db_parts = [p for p in ("ann", "publish", "reindex", "fanout") if p in parts]
    if db_parts:
        with corpus.scratch_database("bench_matcher"):
            for part in db_parts:
                {
                    "ann": bench_ann,
                    "publish": bench_publish,
                    "reindex": bench_reindex,
                    "fanout": bench_fanout,
                }[part]()
    print(f"   load average at end: {corpus.load_average()}", flush=True)


# --- 6. Fanned-out reindex: worker processes sharing the `reindex` queue ----------------------------


def _start_reindex_workers(env: dict, count: int, log_dir: Path) -> list[subprocess.Popen]:
    """``count`` worker processes (concurrency 1 each) consuming only the ``reindex`` queue, at
    ``nice 10`` as deployed (``BENCH_MATCHER_FANOUT_NICE=0``: not)."""
    nice = os.environ.get("BENCH_MATCHER_FANOUT_NICE", "1") != "0"
    from django.conf import settings

    from core.health import queue_consumers
    from matchmaker.celery import worker_command

    # The machine's cores shared among the worker processes, as README says to deploy several on
    # one machine (BENCH_MATCHER_FANOUT_SHARE_CORES=0: each takes every core, torch's default).
    if os.environ.get("BENCH_MATCHER_FANOUT_SHARE_CORES", "1") != "0":
        env = {**env, "MATCHER_TORCH_THREADS": str(max(1, (os.cpu_count() or 1) // count))}
    procs = []
    for i in range(count):
        log = open(log_dir / f"reindex-worker-{i}.log", "ab")  # noqa: SIM115 - owned by the child
        argv = worker_command(
            hostname=f"bench-reindex-{os.getpid()}-{i}@%h",
            queues=[settings.CELERY_REINDEX_QUEUE],
            private=True,
        )
        procs.append(
            subprocess.Popen(
                ["nice", "-n", "10", *argv] if nice else argv,  # as README runs them
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"a reindex worker exited; see {log_dir}")
        warm = sum(
            (log_dir / f"reindex-worker-{i}.log")
            .read_text(errors="replace")
            .count("embedding model preloaded in process")
            for i in range(count)
        )
        if (
            warm >= count
            and queue_consumers(timeout=0.5).get(settings.CELERY_REINDEX_QUEUE, 0) == count
        ):
            return procs
        time.sleep(0.5)
    raise RuntimeError(f"reindex workers not ready; see {log_dir}")


def _previous_version_serving(size: int, ids: list[int]):
    """A previous model's version, active and complete (vectors and lexical documents), so the
    rebuild is a model change as in production."""
    from django.utils import timezone

    from matching.matcher import embedding
    from matching.matcher.documents import doc_for, load_objects
    from matching.models import EmbeddingVersion

    objects = load_objects("result", ids)
    texts = [doc_for("result", objects[i]).text for i in ids]
    previous = EmbeddingVersion.objects.create(
        model_id="bench:previous-model",
        model_name=embedding.default_model_name(),
        dimension=embedding.dimension(),
        status=EmbeddingVersion.Status.ACTIVE,
        activated_at=timezone.now(),
    )
    vectors = np.random.default_rng(size).standard_normal((len(ids), previous.dimension))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    corpus.copy_embeddings(previous, "result", ids, vectors.astype(np.float32), texts)
    corpus.insert_lexical("result", ids, texts)


def bench_fanout() -> dict:
    """A model-change rebuild of ``BENCH_MATCHER_FANOUT_SIZE`` results through the ``reindex``
    queue (``matching.tasks.start_reindex``), with 1 and then 2 worker processes (concurrency 1
    each) sharing it; per-run wall time from sending the batches to the chord callback's end
    (stale rows, HNSW build, switch), the callback's own time, batches per worker; then the
    extrapolation to 100k and 1M on N machines of this kind."""
    from django.db import connection
    from django.db.models import Count, Max, Min
    from django.utils import timezone

    from matching.models import EmbeddingVersion, ReindexBatch
    from matching.tasks import start_reindex

    size = _env_int("BENCH_MATCHER_FANOUT_SIZE", 10000)
    worker_counts = _env_sizes("BENCH_MATCHER_FANOUT_WORKERS", "1,2")
    batch_size = _env_int("BENCH_MATCHER_FANOUT_BATCH", 256)
    live_publishes = _env_int("BENCH_MATCHER_FANOUT_LIVE", 20)
    real = corpus.dev_results()
    rows = []
    log_dir = Path(tempfile.mkdtemp(prefix="mm-bench-fanout-"))
    with corpus.private_redis() as redis_url:
        env = {
            **os.environ,
            "DATABASE_URL": corpus.database_url(connection.settings_dict),
            "REDIS_URL": redis_url,
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        }
        for workers in worker_counts:
            load_before = corpus.load_average()
            corpus.reset_matcher_tables()
            cast = corpus.make_cast([s.discipline for s in real])
            specs, _parents = corpus.synth_results(real, size)
            ids = corpus.insert_results(cast, specs)
            _previous_version_serving(size, ids)
            for old_log in log_dir.glob("reindex-worker-*.log"):
                old_log.unlink()
            procs = _start_reindex_workers(env, workers, log_dir)  # models loaded: not timed
            # A live worker (queue `celery`) matches needs published meanwhile: in every run, or
            # only in the last with BENCH_MATCHER_FANOUT_LIVE_ON=last.
            live_on_all = os.environ.get("BENCH_MATCHER_FANOUT_LIVE_ON", "all") != "last"
            live = live_publishes if live_on_all or workers == worker_counts[-1] else 0
            live_worker = None
            latencies: list[float] = []
            try:
                if live:
                    needs = _new_needs(cast, corpus.dev_demands()[: live + 1])
                    live_worker = _start_worker(env, log_dir / "live-worker.log")
                    _publish_and_wait(needs.pop(0), cast.enterprise_user)  # cold: not counted
                sent_at = timezone.now()
                started = time.perf_counter()
                version, sent, index_done = start_reindex(match=False, batch_size=batch_size)
                while live and needs and not index_done.ready():
                    time.sleep(1.0)
                    latencies.append(_publish_and_wait(needs.pop(0), cast.enterprise_user))
                finished = index_done.get(timeout=24 * 3600, disable_sync_subtasks=False)
                seconds = time.perf_counter() - started
            finally:
                for proc in [*procs, live_worker]:
                    _stop(proc)
            version.refresh_from_db()
            if not finished.get("activated") or version.status != EmbeddingVersion.Status.ACTIVE:
                raise RuntimeError(f"the rebuilt version was not activated: {finished}")
            batches = ReindexBatch.objects.filter(version=version)
            span = batches.aggregate(first=Min("claimed_at"), last=Max("done_at"))
            per_worker = sorted(
                batches.values("claimed_by").annotate(n=Count("pk")).values_list("n", flat=True)
            )
            batch_span_s = (span["last"] - span["first"]).total_seconds()
            first_claim_s = (span["first"] - sent_at).total_seconds()
            rows.append(
                {
                    "results": size,
                    "worker_processes": workers,
                    "batches": sent,
                    "batches_per_worker": per_worker,
                    "attempts_max": max(batches.values_list("attempts", flat=True)),
                    "total_s": round(seconds, 1),
                    "batches_s": round(batch_span_s, 1),
                    "first_claim_s": round(first_claim_s, 1),
                    "finish_s": round(seconds - batch_span_s - first_claim_s, 1),
                    "results_per_s": round(size / seconds, 1),
                    "live_publishes": len(latencies),
                    "live_p50_s": round(statistics.median(latencies), 3) if latencies else None,
                    "live_p95_s": round(corpus.percentile(latencies, 0.95), 3)
                    if latencies
                    else None,
                    "load_before": load_before,
                    "load_after": corpus.load_average(),
                }
            )
            print(f"   fan-out {size} × {workers} worker(s): {rows[-1]}", flush=True)
    corpus.reset_matcher_tables()
    best = max(rows, key=lambda r: size / r["batches_s"])
    machine_rate = size / best["batches_s"]  # results/s of the batches on one machine like this
    finish_per_result = best["finish_s"] / size  # HNSW build etc., on one worker, ~linear
    extrapolation = {}
    for target in (100_000, 1_000_000):
        per_n = {
            str(n): round((target / (machine_rate * n) + finish_per_result * target) / 60, 1)
            for n in (1, 2, 4, 8, 16)
        }
        budget = REINDEX_100K_TARGET_S - finish_per_result * target
        needed = (
            int(np.ceil(target / (machine_rate * budget))) if budget > 0 else None
        )  # machines for 15 min
        extrapolation[str(target)] = {"minutes_on_n_machines": per_n, "machines_for_15_min": needed}
    one = next((r for r in rows if r["worker_processes"] == 1), None)
    two = next((r for r in rows if r["worker_processes"] == 2), None)
    speedup = round(one["batches_s"] / two["batches_s"], 2) if one and two else None
    corpus.print_table(
        f"fanned-out reindex of {size:,} results (model change); machine rate "
        f"{machine_rate:.1f} results/s, 2-worker speed-up {speedup}",
        rows,
    )
    print(f"   extrapolation (minutes on N machines like this one): {extrapolation}", flush=True)
    return _emit(
        "fanout",
        {
            "runs": rows,
            "speedup_2_workers": speedup,
            "machine_results_per_s": round(machine_rate, 1),
            "finish_s_per_1k": round(finish_per_result * 1000, 2),
            "extrapolation": extrapolation,
        },
    )
