"""blaze_lab.replicas — the replica side of routing: lifecycle, live fake replicas, service and fault models.

* :class:`~blaze_lab.replicas.manager.EngineManager` — starts replicas and restarts failed ones (auto-recovery);
* :class:`~blaze_lab.replicas.manager.BlockingEngineReplica` — a blocking engine (``LLMEngine``) as a replica;
* :class:`~blaze_lab.replicas.fake.FakeEngine` — a live in-process replica following the service and fault models;
* :class:`~blaze_lab.replicas.service.ServiceModel` — service times, shared with the simulator;
* :class:`~blaze_lab.replicas.faults.FaultState` — the current effect of faults on one replica, shared likewise.

The router imports this package; nothing here imports the router (one direction, no cycle).
"""

from blaze_lab.replicas.fake import FakeEngine
from blaze_lab.replicas.faults import FaultEvent, FaultState
from blaze_lab.replicas.manager import BlockingEngineReplica, EngineManager
from blaze_lab.replicas.service import ServiceModel, replica_rngs

__all__ = ["BlockingEngineReplica", "EngineManager", "FakeEngine", "FaultEvent", "FaultState", "ServiceModel",
           "replica_rngs"]
