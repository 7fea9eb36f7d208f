"""Apache Kafka (KRaft, one node) and Kafka Connect with Debezium, run from Maven Central jars."""
