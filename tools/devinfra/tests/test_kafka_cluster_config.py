"""The three-broker cluster's server.properties (written, nothing started): one static quorum of
every node, one cluster id and one set of users, and replication as production's."""

from __future__ import annotations

from pathlib import Path

from devinfra.kafka_cluster import LocalKafkaCluster


def properties(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_every_node_votes_and_replicates_three_times_with_two_in_sync(tmp_path: Path) -> None:
    cluster = LocalKafkaCluster(tmp_path)
    written = {}
    for node_id, node in cluster.nodes.items():
        node.home.mkdir(parents=True)
        node._write_configs()
        written[node_id] = properties(node.config_file)
    voters = {f"{n}@127.0.0.1:{node.controller_port}" for n, node in cluster.nodes.items()}
    assert sorted(written) == [1, 2, 3]
    for node_id, config in written.items():
        assert config["node.id"] == str(node_id)
        assert config["process.roles"] == "broker,controller"
        assert set(config["controller.quorum.voters"].split(",")) == voters
        assert "controller.quorum.bootstrap.servers" not in config
        assert config["default.replication.factor"] == "3"
        assert config["offsets.topic.replication.factor"] == "3"  # the group's offsets too
        assert config["min.insync.replicas"] == "2"
        assert config["transaction.state.log.min.isr"] == "2"
        assert config["unclean.leader.election.enable"] == "false"
        assert config["advertised.listeners"].endswith(f":{cluster.node(node_id).port}")
        assert Path(config["ssl.keystore.location"]).is_file()  # the shared broker certificate
    # Same cluster id, same CA and users: one cluster, not three.
    assert len({node._cluster_id() for node in cluster.nodes.values()}) == 1
    assert len({id(node.security) for node in cluster.nodes.values()}) == 1
    assert cluster.bootstrap.count(",") == 2


def test_a_single_broker_keeps_its_own_quorum_and_one_replica(tmp_path: Path) -> None:
    from devinfra.kafka_local import LocalKafka
    from devinfra.processes import free_port

    kafka = LocalKafka(tmp_path, free_port(), free_port())
    kafka.home.mkdir(parents=True, exist_ok=True)
    kafka._write_configs()
    config = properties(kafka.config_file)
    assert config["node.id"] == "1"
    assert config["controller.quorum.bootstrap.servers"] == f"127.0.0.1:{kafka.controller_port}"
    assert config["default.replication.factor"] == "1" and config["min.insync.replicas"] == "1"
