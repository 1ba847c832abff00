"""Write config/README.md from the JSON schemas in config/schemas/ (every key, type, default and
description). Run after changing a schema:  python config/make_readme.py"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SCHEMAS = ["config", "introgression", "ancient_dna", "singlecell", "deconvolution"]

INTRO = """# Configuring genomelearn

`config/config.yaml` is the default configuration; each key is validated by the JSON schemas in
`config/schemas/`, which also fill in every default (a key you leave out takes the default shown
below; a misspelt key is an error). Generated from the schemas by `python config/make_readme.py`.

## Your own run

A config given with `--configfile` is merged over `config/config.yaml`:

```bash
snakemake --cores 2 singlecell --configfile config/examples/my_singlecell.yaml
```

- Put targets before `--configfile` (it takes several values).
- Add your dataset under the analysis' `datasets:` and select it with the top-level `datasets:`
  key (`datasets: {singlecell: [my_pbmc]}`): only the selected datasets run. Without a selection
  all datasets of the analysis run (the defaults and yours).
- Ancient DNA reads its samples from a sample sheet (`ancient_dna.sample_sheet`, schema
  `config/schemas/ancient_samples.schema.yaml`); your sheet replaces the default one.
- `enabled: false` under an analysis leaves it out of `snakemake` (the `all` target).

## Inputs and downloads

A configured input `path` is looked up as given (absolute, or relative to the working directory),
then under `data_mirror` (default `auto`: the sibling `../shared/data`). Otherwise, when the input
has a `url`, the job `download` fetches it to `resources/downloads/<path>` (log in
`logs/downloads/`, retried, written atomically) and checks its `sha256` when given; a mismatch
stops with an error and removes the file. Give `sha256` next to each `url` (for URL templates, such
as `introgression.maps`, a `sha256: {path: digest}` mapping). Resolving inputs never uses the
network, so `snakemake -n` works offline. An input with neither a local copy nor a `url` (the
derived files of the default data: the introgression reference, mask and genes, the processed
single-cell sets, the ancient-DNA BAMs) is planned as a `missing_input` job, so a dry run without a
mirror lists it; a real run stops while the DAG is built, before any job runs, with an error naming
the configured path, the paths tried, the mirror and how to obtain the file (its public source;
provenance in the mirror's `MANIFEST.md`). Run on its own, a `missing_input` job fails with the
same error and writes nothing. `sha256sum FILE` gives the digest.

## Keys
"""


def type_of(spec: dict) -> str:
    if "$ref" in spec:
        return spec["$ref"].split("/")[-1]
    kind = spec.get("type", "object" if "properties" in spec else "")
    if "enum" in spec:
        return " \\| ".join(str(v) for v in spec["enum"] if v is not None)
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def included(spec: dict, schema: dict) -> dict:
    """Properties of ``spec`` plus those of local definitions it includes with allOf/$ref."""
    props = dict(spec.get("properties", {}))
    for part in spec.get("allOf", []):
        target = schema
        for step in part.get("$ref", "#").lstrip("#/").split("/"):
            target = target[step] if step else target
        props.update(target.get("properties", {}))
    return props


def rows(properties: dict, prefix: str, schema: dict):
    for name, spec in properties.items():
        key = f"{prefix}{name}"
        default = json.dumps(spec["default"]) if "default" in spec else ""
        if len(default) > 60:
            default = "(see schema)"
        text = " ".join(str(spec.get("description", "")).split())
        yield (
            f"| `{key}` | {type_of(spec)} | `{default}` | {text} |"
            if default != ""
            else (f"| `{key}` | {type_of(spec)} | | {text} |")
        )
        if "properties" in spec or "allOf" in spec:
            yield from rows(included(spec, schema), f"{key}.", schema)
        extra = spec.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            yield from rows(included(extra, schema), f"{key}.<name>.", schema)


def main() -> None:
    parts = [INTRO]
    for name in SCHEMAS:
        schema = yaml.safe_load((HERE / "schemas" / f"{name}.schema.yaml").read_text())
        title = "top level" if name == "config" else f"`{name}:`"
        parts.append(f"### {title} (`config/schemas/{name}.schema.yaml`)\n")
        parts.append(" ".join(str(schema.get("description", "")).split()) + "\n")
        parts.append("| key | type | default | meaning |\n|---|---|---|---|")
        parts.extend(
            rows(schema.get("properties", {}), "" if name == "config" else f"{name}.", schema)
        )
        parts.append("")
    (HERE / "README.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
