"""Report events on RabbitMQ (the spec's `report.events`), mirrored from our Kafka events for legacy consumers.

- `models`: ReportRequested, ReportCompleted, ReportFailed, AlertTriggered; `encode_event` / `decode_event`.
- `publisher.EventPublisher`: persistent messages with publisher confirms, behind `breaker.CircuitBreaker`.
- `consumer.EventConsumer`: manual acks, retries through TTL queues, dead-letter queue with reasons.
- `topology`: exchanges, per-event-type work queues, retry tiers, DLX/DLQ.
- `mirror`: the Kafka -> RabbitMQ bridge function.
- `local_rabbitmq.LocalRabbitMQ`: a private broker node for tests and `make run`.
- `settings.EventsSettings`: `LG_EVENTS_*`.
Importing this package does no I/O.
"""
