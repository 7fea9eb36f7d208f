"""The Java classpath of the broker and of Connect: Maven Central jars copied into the state directory.

Contract: `ensure_jars` is idempotent and cheap when the jars are there; otherwise it runs Maven once
(`infra/kafka/pom.xml`), which downloads into `~/.m2` (kept between runs) and copies into `jars_dir`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from infra.process import StackError
from infra.settings import StackSettings

POM = Path(__file__).with_name("pom.xml")
REQUIRED = ("kafka_2.13-4.3.1.jar", "connect-runtime-4.3.1.jar", "debezium-connector-postgres-3.6.1.Final.jar",
            "log4j-slf4j-impl-2.25.3.jar")
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.11.0:copy-dependencies"


def jars_present(jars_dir: Path) -> bool:
    return all((jars_dir / name).exists() for name in REQUIRED)


def ensure_jars(settings: StackSettings) -> Path:
    """The directory holding the full classpath, filled from Maven Central if needed."""
    jars_dir = settings.jars_dir
    if jars_present(jars_dir):
        return jars_dir
    if shutil.which("mvn") is None:
        raise StackError("Maven (mvn) is not installed: run `make system-deps`")
    jars_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), DEPENDENCY_PLUGIN, "-DincludeScope=runtime",
         f"-DoutputDirectory={jars_dir}"],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0 or not jars_present(jars_dir):
        output = result.stdout[-3000:] + result.stderr[-2000:]
        raise StackError(f"Maven could not fetch the Kafka/Debezium jars:\n{output}")
    return jars_dir


def classpath(settings: StackSettings) -> str:
    return str(settings.jars_dir / "*")


LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="out" target="SYSTEM_OUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="out"/></Root>
    <Logger name="kafka" level="WARN"/>
    <Logger name="org.apache.kafka" level="WARN"/>
    <Logger name="org.apache.kafka.connect.runtime.WorkerSourceTask" level="INFO"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="io.debezium" level="INFO"/>
  </Loggers>
</Configuration>
"""


def java_command(settings: StackSettings, heap_mb: int, main_class: str, *args: str) -> list[str]:
    """`java` with our classpath, heap and logging configuration."""
    conf_dir = settings.state_dir / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    log4j = conf_dir / "log4j2.xml"
    log4j.write_text(LOG4J2_XML)
    return ["java", f"-Xms{min(heap_mb, 256)}m", f"-Xmx{heap_mb}m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath(settings), main_class, *args]
