"""The Maven-resolved connector jars (pom.xml -> .cache/spark-jars) fit pyspark's own jars.

* nothing copied duplicates an artifact pyspark already ships (two versions of one class on
  the class path);
* the connector matches pyspark's version, and every token-provider member the connector
  references exists in the copied token-provider jar (it comes from an earlier 4.1.x release,
  see the pom's comment), checked on the bytecode with javap.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pyspark

from dtmon_processor.jars import connector_jars

PYSPARK_JARS = Path(pyspark.__file__).resolve().parent / "jars"
_VERSIONED = re.compile(r"^(?P<name>.+?)-(?P<version>\d[\w.\-]*)\.jar$")


def _artifact(jar: Path) -> str:
    m = _VERSIONED.match(jar.name)
    assert m, f"unexpected jar name {jar.name}"
    return m.group("name")


def test_no_copied_jar_duplicates_a_pyspark_jar() -> None:
    ours = {_artifact(j) for j in connector_jars()}
    theirs = {_artifact(j) for j in PYSPARK_JARS.glob("*.jar")}
    assert ours & theirs == set()
    assert {"kafka-clients", "commons-pool2"} <= ours


def test_connector_matches_pyspark_version() -> None:
    names = [j.name for j in connector_jars()]
    assert f"spark-sql-kafka-0-10_2.13-{pyspark.__version__}.jar" in names


def test_token_provider_has_every_member_the_connector_uses(tmp_path: Path) -> None:
    jars = connector_jars()
    (connector,) = [j for j in jars if j.name.startswith("spark-sql-kafka")]
    (provider,) = [j for j in jars if j.name.startswith("spark-token-provider-kafka")]
    with zipfile.ZipFile(connector) as z:
        classes = [n[:-6] for n in z.namelist() if n.endswith(".class")]
    dump = subprocess.run(
        ["javap", "-c", "-p", "-cp", str(connector), *classes],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    refs = set(re.findall(r"(org/apache/spark/kafka010/[\w$]+)\.([\w$<>]+):(\S+)", dump))
    assert refs, "the connector references the token-provider module"
    owners = sorted({owner.replace("/", ".") for owner, _, _ in refs})
    members = subprocess.run(
        ["javap", "-p", "-s", "-cp", str(provider), *owners],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for owner, name, descriptor in sorted(refs):
        # javap -s prints "name(...)" or "name;" then "descriptor: <desc>" on the next line.
        pattern = rf"[ .]{re.escape(name)}[(;][^\n]*\n\s+descriptor: {re.escape(descriptor)}\n"
        assert re.search(pattern, members), f"{owner}.{name}{descriptor} missing in {provider}"
