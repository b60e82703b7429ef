"""blaze_lab.cache — the model cache (``models``) and the tiered result cache (memory -> disk -> Redis).

Result cache in four lines (details in docs/cache.md)::

    from blaze_lab.cache import CacheConfig, TieredCache, cache_key
    cache = TieredCache.from_config(CacheConfig(tiers=("memory", "disk"), ttl_s=3600))
    key = cache_key("smollm2-135m", llm_config, prompt, {"do_sample": False, "max_new_tokens": 32})
    result = cache.get_or_compute(key, lambda: engine_generate(prompt))   # key None -> always computed

Names resolve lazily (a small registry) so ``import blaze_lab.cache`` does not import pandas or redis-py.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS = {
    "CacheConfig": "blaze_lab.cache.tiered",
    "TieredCache": "blaze_lab.cache.tiered",
    "Lookup": "blaze_lab.cache.tiered",
    "cache_key": "blaze_lab.cache.keys",
    "is_deterministic": "blaze_lab.cache.keys",
    "CachedResult": "blaze_lab.cache.codec",
    "encode": "blaze_lab.cache.codec",
    "decode": "blaze_lab.cache.codec",
    "CacheTier": "blaze_lab.cache.tier",
    "Hit": "blaze_lab.cache.tier",
    "MemoryTier": "blaze_lab.cache.memory",
    "DiskTier": "blaze_lab.cache.disk",
    "RedisTier": "blaze_lab.cache.redis_tier",
    "zipf_keys": "blaze_lab.cache.workload",
    "simulate_cache_workload": "blaze_lab.cache.workload",
    "summarize_cache_workload": "blaze_lab.cache.workload",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'blaze_lab.cache' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_EXPORTS)
