#!/usr/bin/env python3
"""Builds the Grafana dashboards in ../dashboards from short panel lists, so every panel has the
same datasource, units and layout. Run: python3 deploy/grafana/generator/build.py"""
import json, os

DS = {"type": "prometheus", "uid": "prometheus"}
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "dashboards")


def panel(pid, title, exprs, unit="short", kind="timeseries", w=12, h=8, desc=""):
    targets = [{"datasource": DS, "expr": e, "legendFormat": l, "refId": chr(65 + i)} for i, (e, l) in enumerate(exprs)]
    p = {"id": pid, "type": kind, "title": title, "description": desc, "datasource": DS, "targets": targets,
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "gridPos": {"w": w, "h": h, "x": 0, "y": 0}}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background"}
    return p


def dashboard(uid, title, panels, desc):
    x = y = 0
    for p in panels:
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y = 0, y + h
        p["gridPos"].update({"x": x, "y": y})
        x += w
    return {"uid": uid, "title": title, "description": desc, "tags": ["auditstream"], "timezone": "utc",
            "schemaVersion": 39, "version": 1, "refresh": "30s", "time": {"from": "now-1h", "to": "now"},
            "templating": {"list": []}, "panels": panels}


pipeline = dashboard("auditstream-pipeline", "auditstream / Pipeline overview", [
    panel(1, "Events in (received/s)", [("sum(rate(auditstream_ingest_received_events_total[1m]))", "received")], "ops", "stat", 6, 4),
    panel(2, "Events stored (inserted/s)", [("sum(rate(auditstream_ingest_inserted_events_total[1m]))", "inserted")], "ops", "stat", 6, 4),
    panel(3, "Consumer lag (events)", [("sum(auditstream_ingest_consumer_lag)", "lag")], "short", "stat", 6, 4),
    panel(4, "Dead-lettered (last 1h)", [("sum(increase(auditstream_ingest_dead_lettered_events_total[1h]))", "dlq")], "short", "stat", 6, 4),
    panel(5, "Throughput", [("sum(rate(auditstream_ingest_received_events_total[1m]))", "received"),
                            ("sum(rate(auditstream_ingest_inserted_events_total[1m]))", "inserted"),
                            ("sum(rate(auditstream_ingest_dead_lettered_events_total[1m]))", "dead-lettered")], "ops",
          desc="In vs out: the gap between received and inserted+dead-lettered is what sits in the buffer."),
    panel(6, "Consumer lag per partition", [("sum by (partition) (auditstream_ingest_consumer_lag)", "p{{partition}}")], "short"),
    panel(7, "End-to-end delay (occurred_at → stored)", [
        ("histogram_quantile(0.5, sum by (le) (rate(auditstream_ingest_end_to_end_delay_seconds_bucket[5m])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(auditstream_ingest_end_to_end_delay_seconds_bucket[5m])))", "p99")], "s"),
    panel(8, "Insert duration", [
        ("histogram_quantile(0.5, sum by (le) (rate(auditstream_ingest_insert_duration_seconds_bucket[5m])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(auditstream_ingest_insert_duration_seconds_bucket[5m])))", "p99")], "s"),
    panel(9, "Errors by stage and type", [("sum by (stage, error_type) (rate(auditstream_ingest_errors_total[5m]))", "{{stage}} {{error_type}}")], "ops"),
    panel(10, "Dead letters by reason", [("sum by (error_type) (rate(auditstream_ingest_dead_lettered_events_total[5m]))", "{{error_type}}")], "ops"),
    panel(11, "Buffer occupancy", [("sum(auditstream_ingest_buffer_events)", "events")], "short"),
    panel(12, "Insert retries", [("sum(rate(auditstream_ingest_insert_retries_total[5m]))", "retries/s")], "ops"),
    panel(13, "Batch size (rows)", [("histogram_quantile(0.5, sum by (le) (rate(auditstream_ingest_batch_rows_bucket[5m])))", "p50 rows")], "short"),
    panel(14, "Batch size (bytes)", [("histogram_quantile(0.5, sum by (le) (rate(auditstream_ingest_batch_bytes_bucket[5m])))", "p50 bytes")], "bytes"),
    panel(15, "Ingest time by stage (share of each second)", [("sum by (stage) (rate(auditstream_ingest_stage_seconds_total[5m]))", "{{stage}}")], "percentunit",
          desc="Where a busy ingest spends its time: insert and after_insert wait on ClickHouse, commit and dlq on Kafka; process, row_mapping and chain are ingest's own CPU. Stages near 1 in total mean ingest is saturated."),
], "Is it healthy, is it keeping up, is anything being lost.")

alerting = dashboard("auditstream-alerting", "auditstream / Alerting", [
    panel(1, "Events evaluated/s", [("sum(rate(auditstream_alerting_evaluated_events_total[1m]))", "evaluated")], "ops", "stat", 8, 4),
    panel(2, "Alerts fired (last 1h)", [("sum(increase(auditstream_alerting_alerts_fired_total[1h]))", "alerts")], "short", "stat", 8, 4),
    panel(3, "Rule state entries", [("sum(auditstream_alerting_state_entries)", "entries")], "short", "stat", 8, 4),
    panel(4, "Alerts by rule", [("sum by (rule_id) (increase(auditstream_alerting_alerts_fired_total[5m]))", "{{rule_id}}")], "short"),
    panel(5, "Sink deliveries by result", [("sum by (sink, result) (rate(auditstream_alerting_sink_deliveries_total[5m]))", "{{sink}} {{result}}")], "ops"),
    panel(6, "Sink failures", [("sum by (sink, error_type) (rate(auditstream_alerting_sink_failures_total[5m]))", "{{sink}} {{error_type}}")], "ops"),
    panel(7, "Evaluation latency", [
        ("histogram_quantile(0.5, sum by (le) (rate(auditstream_alerting_evaluation_duration_seconds_bucket[5m])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(auditstream_alerting_evaluation_duration_seconds_bucket[5m])))", "p99")], "s"),
    panel(8, "Event → alert delay", [
        ("histogram_quantile(0.5, sum by (le) (rate(auditstream_alerting_event_to_alert_delay_seconds_bucket[5m])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(auditstream_alerting_event_to_alert_delay_seconds_bucket[5m])))", "p99")], "s"),
], "Which rules fire, whether alerts reach their sinks, and how fast.")

resources = dashboard("auditstream-resources", "auditstream / Service resources", [
    panel(1, "Up", [("up{job=~\"auditstream-.*\"}", "{{job}} {{instance}}")], "short"),
    panel(2, "Resident memory", [("auditstream_process_resident_memory_bytes", "{{service}} {{instance}}")], "bytes"),
    panel(3, "CPU", [("rate(auditstream_process_cpu_seconds_total[1m])", "{{service}} {{instance}}")], "percentunit"),
    panel(4, "Event-loop lag p99", [("auditstream_nodejs_eventloop_lag_p99_seconds", "{{service}} {{instance}}")], "s"),
    panel(5, "Heap used", [("sum by (service, instance) (auditstream_nodejs_heap_space_size_used_bytes)", "{{service}} {{instance}}")], "bytes"),
    panel(6, "API request rate by route", [("sum by (route, status_class) (rate(auditstream_api_requests_total[5m]))", "{{route}} {{status_class}}")], "ops"),
    panel(7, "API latency p99 by route", [("histogram_quantile(0.99, sum by (le, route) (rate(auditstream_api_request_duration_seconds_bucket[5m])))", "{{route}}")], "s"),
    panel(8, "API ClickHouse query duration p99", [("histogram_quantile(0.99, sum by (le, query) (rate(auditstream_api_clickhouse_query_duration_seconds_bucket[5m])))", "{{query}}")], "s"),
], "Memory, CPU and event-loop health of every auditstream process.")

for name, d in [("pipeline", pipeline), ("alerting", alerting), ("resources", resources)]:
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(d, f, indent=2)
        f.write("\n")
print("dashboards written")
