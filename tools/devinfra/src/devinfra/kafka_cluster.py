"""A replicated Kafka cluster on loopback: three KRaft nodes, each broker and controller, from
the same Maven jars and the machine's Java as the single broker (devinfra.kafka_local).

What production asks of its cluster (docs/delivery.md, "Kafka cluster faults"): replication
factor 3, `min.insync.replicas` 2, no unclean leader election, for the platform's topics
(devinfra.topics) and for the broker's own (group offsets). The fault tests kill and roll these
brokers one by one: `node(n)` is a LocalKafka with stop (SIGTERM), kill (SIGKILL) and start.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devinfra import kafka_admin, kafka_security
from devinfra.blocking import run_blocking
from devinfra.errors import InfraError
from devinfra.kafka_local import ClusterNode, LocalKafka, read_or_make_cluster_id
from devinfra.processes import free_port
from devinfra.topics import MIN_INSYNC_REPLICAS, REPLICATION_FACTOR


@dataclass(frozen=True)
class PartitionState:
    topic: str
    partition: int
    leader: int  # -1: no leader right now
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def fully_in_sync(self) -> bool:
        return self.leader >= 0 and set(self.isr) == set(self.replicas)


class LocalKafkaCluster:
    """`brokers` nodes (ids 1..n) with combined roles; all controllers vote (a static quorum),
    so any one node may be down and the others still elect a leader and accept writes."""

    def __init__(
        self,
        run_dir: Path,
        brokers: int = 3,
        *,
        replication_factor: int = REPLICATION_FACTOR,
        min_insync_replicas: int = MIN_INSYNC_REPLICAS,
    ) -> None:
        if brokers < replication_factor:
            raise InfraError(f"{brokers} brokers cannot hold {replication_factor} replicas")
        self.run_dir = Path(run_dir).resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.replication_factor = replication_factor
        self.security: kafka_security.KafkaSecurity | None = (
            None
            if os.environ.get("PWRESET_BENCH_KAFKA_PLAINTEXT") == "1"
            else kafka_security.prepare(self.run_dir / "kafka-security")
        )
        ports = {n: (free_port(), free_port()) for n in range(1, brokers + 1)}
        voters = ",".join(f"{n}@127.0.0.1:{controller}" for n, (_, controller) in ports.items())
        cluster_id = read_or_make_cluster_id(self.run_dir / "kafka-cluster.id")
        self.nodes: dict[int, LocalKafka] = {
            n: LocalKafka(
                self.run_dir,
                port,
                controller,
                node=ClusterNode(
                    node_id=n,
                    voters=voters,
                    cluster_id=cluster_id,
                    security=self.security,
                    replication_factor=replication_factor,
                    min_insync_replicas=min_insync_replicas,
                ),
            )
            for n, (port, controller) in ports.items()
        }

    @property
    def bootstrap(self) -> str:
        """Every broker: a client reaches the cluster while any one of them is down."""
        return ",".join(node.bootstrap for node in self.nodes.values())

    def node(self, node_id: int) -> LocalKafka:
        return self.nodes[node_id]

    def admin_options(self) -> dict[str, object]:
        if self.security is None:
            return {}
        return self.security.client_options(kafka_security.ADMIN)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, timeout: float = 180.0) -> None:
        """Launch every node, then wait for each (none answers before a majority of the
        controllers is up); the ACLs once, through the admin user."""
        try:
            for node in self.nodes.values():
                node.launch()
            for node in self.nodes.values():
                node.wait_ready(timeout)
            if self.security is not None:
                kafka_admin.create_acls(self.bootstrap, self.security)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """All nodes at once: stopped one by one, the last ones would wait for a quorum that
        has gone (and be killed after stop()'s timeout)."""
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(timeout=20), self.nodes.values()))

    def create_topics(
        self, names: Iterable[str], partitions: int = 3, retention_ms: int | None = None
    ) -> None:
        kafka_admin.create_topics(
            self.bootstrap,
            names,
            partitions,
            retention_ms,
            self.admin_options(),
            replication_factor=self.replication_factor,
        )

    # -- state -------------------------------------------------------------------------
    def partitions(self, topics: Iterable[str] | None = None) -> list[PartitionState]:
        """Leader, replicas and in-sync replicas of every partition of `topics` (all topics,
        the broker's internal ones included, when None), as the cluster's metadata says."""
        wanted = list(topics) if topics is not None else None
        return run_blocking(lambda: _describe(self.bootstrap, wanted, self.admin_options()), 30)

    def leaders(self, topic: str) -> Counter[int]:
        """How many of `topic`'s partitions each broker leads."""
        return Counter(p.leader for p in self.partitions([topic]) if p.leader >= 0)

    def coordinator(self, group: str) -> int:
        """The broker coordinating consumer group `group`."""
        return run_blocking(lambda: _coordinator(self.bootstrap, group, self.admin_options()), 30)

    def out_of_sync(self, topics: Iterable[str] | None = None) -> list[PartitionState]:
        """Partitions with a replica missing from their ISR (or without a leader); [] when
        every replica of every partition is in sync. Unreachable metadata counts as not."""
        try:
            states = self.partitions(topics)
        except Exception as exc:  # the caller polls: "not yet"
            return [PartitionState(f"(metadata: {type(exc).__name__})", -1, -1, (), ())]
        return [p for p in states if not p.fully_in_sync]


def _cluster_client(bootstrap: str, options: dict[str, object]) -> Any:
    from aiokafka.admin import AIOKafkaAdminClient

    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=10000, **dict(options)
    )


async def _describe(
    bootstrap: str, topics: list[str] | None, options: dict[str, object]
) -> list[PartitionState]:
    admin = _cluster_client(bootstrap, options)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    states = []
    for topic in described:
        if topic["error_code"] != 0:
            raise InfraError(f"metadata of {topic['topic']}: error {topic['error_code']}")
        for partition in topic["partitions"]:
            states.append(
                PartitionState(
                    topic=topic["topic"],
                    partition=partition["partition"],
                    leader=partition["leader"],
                    replicas=tuple(partition["replicas"]),
                    isr=tuple(partition["isr"]),
                )
            )
    return sorted(states, key=lambda p: (p.topic, p.partition))


async def _coordinator(bootstrap: str, group: str, options: dict[str, object]) -> int:
    admin = _cluster_client(bootstrap, options)
    await admin.start()
    try:
        return int(await admin.find_coordinator(group))
    finally:
        await admin.close()
