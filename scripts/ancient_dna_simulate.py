"""Controlled damage benchmark, step 1: molecules from the modern samples' reference intervals with
the ancient training individuals' fragment lengths, written undamaged and deaminated (measured and
gargammel profiles, swept terminal C→T rate) as merged single-end BAMs with MD tags."""

import pandas as pd
import pyarrow.parquet as pq

from genomelearn.workflow import get_logger, run_script


def main(smk):
    import numpy as np
    import pysam

    from genomelearn.adna import simulate as S
    from genomelearn.adna.samplesheet import load_sample_sheet
    from genomelearn.errors import InputError

    log = get_logger()
    p = smk.params.simulation
    sheet = load_sample_sheet(smk.input.sheet).reset_index(drop=True)
    samples = list(sheet["sample"])
    length_tables = dict(zip(samples, smk.input.lengths))
    damage_tables = dict(zip(samples, smk.input.damage))
    read_tables = dict(zip(samples, smk.input.reads))
    splits = pd.read_csv(smk.input.splits, sep="\t")
    train_anc = set(
        splits.loc[(splits["split"] == "train") & (splits["label"] == "ancient"), "individual"]
    )
    anc_samples = sheet.loc[sheet["individual"].isin(train_anc), "sample"].tolist()
    lengths, probs = S.length_distribution([length_tables[s] for s in anc_samples])
    profiles = {"measured": S.profile_from_damage_tables([damage_tables[s] for s in anc_samples])}
    g = smk.params.gargammel
    profiles["gargammel_double"] = S.profile_from_gargammel(
        g["double5"], g["double3"], "gargammel_double"
    )
    profiles["gargammel_single"] = S.profile_from_gargammel(
        g["single5"], g["single3"], "gargammel_single"
    )
    # molecules on the modern samples' intervals of the contig they cover most (with a FASTA)
    modern = sheet[(sheet["label"] == "modern") & (sheet["sample"].isin(smk.params.references))]
    tables = [
        pq.read_table(read_tables[s], columns=["contig", "start", "strand"])
        for s in modern["sample"]
    ]
    if not tables:
        raise InputError(
            f"{smk.input.sheet}: no modern sample with a reference FASTA to simulate from"
        )
    starts = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    contig = starts["contig"].value_counts().index[0]
    starts = starts[starts["contig"] == contig]
    fasta_path = smk.params.references[modern["sample"].iloc[0]]
    with pysam.FastaFile(fasta_path) as fa:
        seq = fa.fetch(contig).encode()
        contig_lengths = {contig: fa.get_reference_length(contig)}
    mol = S.sample_molecules(
        seq,
        contig,
        starts["start"].to_numpy(),
        (starts["strand"] == "-").to_numpy(),
        lengths,
        probs,
        p["n_molecules"],
        p["seed"],
    )
    S.write_bam(smk.output.undamaged, mol, mol.reference, contig_lengths, "undamaged")
    rows = [
        {
            "condition": "undamaged",
            "profile": "none",
            "terminal_ct": 0.0,
            "bam": smk.output.undamaged,
        }
    ]
    for k, (name, prof) in enumerate(profiles.items()):
        for r, rate in enumerate(p["terminal_ct_rates"]):
            cond = f"{name}_ct{rate:g}"
            bam = f"{smk.params.outdir}/{cond}.bam"
            damaged = S.deaminate(mol, prof.scaled(rate), p["seed"] + 1 + 100 * k + r)
            S.write_bam(bam, mol, damaged, contig_lengths, cond)
            rows.append({"condition": cond, "profile": name, "terminal_ct": rate, "bam": bam})
    pd.DataFrame(rows).to_csv(smk.output.manifest, sep="\t", index=False)
    prof_rows = []
    for name, prof in profiles.items():
        for d in range(len(prof.ct5)):
            prof_rows.append(
                {
                    "profile": name,
                    "distance": d,
                    "ct5": prof.ct5[d],
                    "ga3": prof.ga3[d],
                    "ct3": prof.ct3[d] if d < len(prof.ct3) else np.nan,
                }
            )
    pd.DataFrame(prof_rows).to_csv(smk.output.profiles, sep="\t", index=False, float_format="%.5g")
    log.info(
        "%d molecules on %s (%d modern intervals), lengths from %d ancient training samples; %d BAMs",
        len(mol.length),
        contig,
        len(starts),
        len(anc_samples),
        len(rows),
    )


run_script(main, snakemake)  # noqa: F821
