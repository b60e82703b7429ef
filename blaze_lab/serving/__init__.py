"""Serving an LLM under load: batchers, request handles and streams, the result cache and the serving benchmark.

Modules: :mod:`~blaze_lab.serving.config` (:class:`~blaze_lab.serving.config.ServingConfig`, the ``serving`` kind's
config; torch-free), :mod:`~blaze_lab.serving.handles` (a request's handle, token stream and result),
:mod:`~blaze_lab.serving.runner` (what runs one padded batch), :mod:`~blaze_lab.serving.batching` (the dynamic
batcher and ``make_server``), :mod:`~blaze_lab.serving.continuous` (continuous batching),
:mod:`~blaze_lab.serving.cache` (the tiered result cache in front of a batcher) and :mod:`~blaze_lab.serving.bench`
(open-loop benchmark, max rate under an SLO; the ``serving`` kind's ``benchmark_group``). docs/serving.md has the
details.

Example:
    >>> from blaze_lab.serving.config import ServingConfig
    >>> ServingConfig(batching="dynamic").batching
    'dynamic'
"""
