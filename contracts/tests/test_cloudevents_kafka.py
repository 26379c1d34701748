from collections.abc import Callable

import pytest
from pwreset_contracts import cloudevents_kafka as ce
from pwreset_contracts.events import ResetRequestedV1

Factory = Callable[[], ResetRequestedV1]


def test_round_trip_keeps_attributes_and_data(make_reset_requested: Factory) -> None:
    event = make_reset_requested()
    record = ce.encode(event, source="/reset", event_id="e-1", extensions={"traceparent": "00-x"})
    assert record.topic == "password-reset.requested.v1"
    assert record.key == str(event.account_id).encode()
    headers = dict(record.headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["content-type"] == b"application/json"

    received = ce.decode(record.headers, record.value)
    assert received.id == "e-1"
    assert received.source == "/reset"
    assert received.type == ResetRequestedV1.ce_type
    assert received.data == event
    assert received.extensions == {"traceparent": "00-x"}
    # Every record names the schema of its data (the released one's $id).
    assert headers["ce_dataschema"] == b"urn:pwreset:events:password-reset.requested.v1"
    assert received.dataschema == "urn:pwreset:events:password-reset.requested.v1"


def test_decode_rejects_records_that_are_not_our_events(make_reset_requested: Factory) -> None:
    record = ce.encode(make_reset_requested(), source="/reset")
    with pytest.raises(ce.InvalidRecord, match="missing"):
        ce.decode([], record.value)
    wrong_type = [(k, b"com.other.v1" if k == "ce_type" else v) for k, v in record.headers]
    with pytest.raises(ce.InvalidRecord, match="unknown event type"):
        ce.decode(wrong_type, record.value)
    with pytest.raises(ce.InvalidRecord, match="invalid"):
        ce.decode(record.headers, b'{"request_id": "not-a-uuid"}')
    with pytest.raises(ce.InvalidRecord, match="invalid"):
        ce.decode(record.headers, b"\xff not json")
