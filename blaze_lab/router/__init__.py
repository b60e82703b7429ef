"""blaze_lab.router — request routing across replicas, live (asyncio) and simulated (virtual clock).

Strategies, circuit breakers, health tracking and the decision core are shared by both modes:

* :class:`~blaze_lab.router.core.RouterCore` — sans-IO decisions, retries, hedging, bounded queue, ledger;
* :class:`~blaze_lab.router.router.Router` — the live asyncio driver over replicas (fake engines, LLM engines);
* :func:`~blaze_lab.router.simulate.simulate` — the discrete-event simulator for a
  :class:`~blaze_lab.router.config.RouterExperimentConfig`;
* :func:`~blaze_lab.router.bench.benchmark_group` — the sweep notebook's entry point.
"""

from blaze_lab.replicas.service import ServiceModel
from blaze_lab.router.breaker import CircuitBreaker
from blaze_lab.router.config import BreakerConfig, HealthConfig, RouterConfig, RouterExperimentConfig
from blaze_lab.router.core import RouterCore
from blaze_lab.router.health import HealthChecker, HealthTracker
from blaze_lab.router.router import Router
from blaze_lab.router.simulate import Simulator, simulate
from blaze_lab.router.strategies import STRATEGIES, make_strategy

__all__ = [
    "STRATEGIES",
    "BreakerConfig",
    "CircuitBreaker",
    "HealthChecker",
    "HealthConfig",
    "HealthTracker",
    "Router",
    "RouterConfig",
    "RouterCore",
    "RouterExperimentConfig",
    "ServiceModel",
    "Simulator",
    "make_strategy",
    "simulate",
]
