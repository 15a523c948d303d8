"""Evidence collection: the source interface, the built-in telemetry source, and the step that
turns collected evidence into cached chart figures. The service that drives a snapshot is in
``cases.evidence.services``; see docs/evidence.md for adding a source of your own."""
