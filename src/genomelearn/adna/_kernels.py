"""Compiled (numba) per-batch kernel of the read extraction: CIGAR and MD parsing, reference lookup,
molecule orientation, per-read summaries and mapDamage's misincorporation counts in one pass.

The BAM is decoded by htslib (:mod:`genomelearn.adna.htslib_reader`, or pysam); this kernel only
works on the text fields as pysam returns them (CIGAR string, SEQ, QUAL, MD), concatenated per batch
into byte buffers with offsets. Each read is
visited once, each base a constant number of times, with no Python object per read or per base.

Status codes written per read (``status``) and returned as the first fatal read (``-1``: none):

* ``BAD_MD`` (1): the MD tag disagrees with the CIGAR (``info`` = [reference bases MD covers,
  M/=/X/D bases of the CIGAR]); fatal unless ``skip_bad_md``; a skipped read adds no counts.
* ``BAD_OP`` (2): a CIGAR operation other than M I D N S H P = X (``info[0]`` = the character).
* ``SKIP_NO_REF`` (3): a CIGAR N operation (reference skip) without a reference FASTA.
* ``PAST_END`` (4): an aligned base beyond the end of the contig (``info[0]`` = contig length).
* ``BAD_QLEN`` (5): the CIGAR's query length differs from the sequence length (``info`` =
  [CIGAR, SEQ]).
"""

from __future__ import annotations

import numpy as np
from numba import njit

OK, BAD_MD, BAD_OP, SKIP_NO_REF, PAST_END, BAD_QLEN = 0, 1, 2, 3, 4, 5

# CIGAR operation codes by character (BAM order M I D N S H P = X); 9 = invalid
CIGAR_OP = np.full(256, 9, dtype=np.int64)
for _i, _c in enumerate("MIDNSHP=X"):
    CIGAR_OP[ord(_c)] = _i

# base codes used everywhere in this package (A C G T N - = 0..5) and the byte lookup tables
A, C, G, T, N, GAP = 0, 1, 2, 3, 4, 5
_N, _GAP = N, GAP
CODE_LUT = np.full(256, N, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    CODE_LUT[ord(_b)] = _i
    CODE_LUT[ord(_b.lower())] = _i
CODE_LUT[ord("-")] = GAP
COMPLEMENT_CODE = np.array([T, G, C, A, N, GAP], dtype=np.uint8)
COMPLEMENT_ASCII = np.arange(256, dtype=np.uint8)
for _a, _b in zip("ACGTNacgtn", "TGCANtgcan"):
    COMPLEMENT_ASCII[ord(_a)] = ord(_b)
UPPER_ASCII = np.arange(256, dtype=np.uint8)
UPPER_ASCII[ord("a") : ord("z") + 1] -= 32


def _pair_tables():
    """Tables of the one-block path. A pair code is reference code * 6 + read code for a counted
    pair (both A C G T: 0..35, the index of mapDamage's 6 x 6 count matrix), 36 when either base
    is N (or another IUPAC letter) and 37 for a gap (a soft-clipped base).

    Returns:
        pair_code (uint8, 65536: (reference byte << 8) | read byte), clip_pair (uint8, 256: read
        byte of a soft-clipped base), ms_char (uint8, 38: the mismatch-string character of a pair
        code: '.', the reference base, 'N' or '-'), mismatch (int64, 38: 1 for a counted pair of
        two different bases), base_count (int64, 256: per read byte, 1 for A C G T plus 2**32 for
        G or C, so that one sum gives both counts of a read).
    """
    r = np.arange(256)[:, None]
    s = np.arange(256)[None, :]
    rc, sc = CODE_LUT[r].astype(np.int64), CODE_LUT[s].astype(np.int64)
    pair = np.where(
        (rc == N) | (sc == N), 36, np.where((rc == GAP) | (sc == GAP), 37, rc * 6 + sc)
    )
    pair_code = pair.astype(np.uint8).ravel()
    clip_pair = np.where(CODE_LUT == N, 36, 37).astype(np.uint8)
    ms_char = np.full(38, ord("N"), dtype=np.uint8)  # codes with a 4 or 5 below 36 never occur
    mismatch = np.zeros(38, dtype=np.int64)
    for rcode in range(4):
        for scode in range(4):
            pc = rcode * 6 + scode
            ms_char[pc] = ord(".") if rcode == scode else ord("ACGT"[rcode])
            mismatch[pc] = rcode != scode
    ms_char[37] = ord("-")
    base_count = np.where(CODE_LUT < N, 1, 0).astype(np.int64)
    base_count[(CODE_LUT == C) | (CODE_LUT == G)] += 1 << 32
    return pair_code, clip_pair, ms_char, mismatch, base_count


_PAIR_CODE, _CLIP_PAIR, _MS_CHAR, _MISMATCH, _BASE_COUNT = _pair_tables()


def _jit(**options):
    """numba.njit with an on-disk cache (next to this file, else numba's user-wide cache); where
    no cache location is writable, a plain njit (compiled once per process, a few seconds)."""

    def decorate(func):
        try:
            return njit(cache=True, **options)(func)
        except RuntimeError:  # numba: "cannot cache function ...: no locator available"
            return njit(**options)(func)

    return decorate


NO_BYTES = np.frombuffer(b"", dtype=np.uint8)  # read-only, as every byte buffer of a batch


# One-block reads (one M/=/X operation between optional soft clips: nearly every read) take these
# small functions over slices of one read: with indices that start at 0 and few live values, the
# compiler keeps the loops in registers without index wrap-around checks, which it does not inside
# process_reads with its many live arrays (kernel CPU before and after: docs/ancient_dna.md).


@_jit(nogil=True, inline="always")
def _put_base(b, sb, rb, out_seq, out_ref, pair):
    """Molecule base b (read byte sb, reference byte rb): write both bytes and the pair code;
    returns (its base count, 1 if a counted mismatch else 0)."""
    out_seq[b] = sb
    out_ref[b] = rb
    pc = _PAIR_CODE[(np.int64(rb) << 8) | sb]
    pair[b] = pc
    return _BASE_COUNT[sb], _MISMATCH[pc]


@_jit(nogil=True)
def _aligned_forward(seq, ref, out_seq, out_ref, pair, base_counts):
    """Aligned bases of a forward read (all uint8, same length): copy the read and reference
    bytes, write each base's pair code; returns (base_counts + the read's, mismatches)."""
    mism = 0
    for b in range(seq.shape[0]):
        count, mismatch = _put_base(b, seq[b], ref[b], out_seq, out_ref, pair)
        base_counts += count
        mism += mismatch
    return base_counts, mism


@_jit(nogil=True)
def _aligned_reverse(seq, ref, out_seq, out_ref, pair, complement, base_counts):
    """As :func:`_aligned_forward` for a reverse read: the outputs are the reverse complement
    (molecule orientation) of ``seq`` and ``ref`` (alignment orientation)."""
    mism = 0
    n = seq.shape[0]
    for b in range(n):
        sb = complement[seq[n - 1 - b]]
        rb = complement[ref[n - 1 - b]]
        count, mismatch = _put_base(b, sb, rb, out_seq, out_ref, pair)
        base_counts += count
        mism += mismatch
    return base_counts, mism


@_jit(nogil=True)
def _reversed_copy(src, dst):
    """dst[b] = src[n - 1 - b]."""
    n = src.shape[0]
    for b in range(n):
        dst[b] = src[n - 1 - b]


@_jit(nogil=True)
def _mismatch_strings(pair, ms5, ms3):
    """Mismatch strings of one read (molecule orientation) from its pair codes: ``ms5[b]`` for
    base b from the 5' end, ``ms3[b]`` for base b from the 3' end."""
    n = pair.shape[0]
    for b in range(ms5.shape[0]):
        ms5[b] = _MS_CHAR[pair[b]]
        ms3[b] = _MS_CHAR[pair[n - 1 - b]]


@_jit(nogil=True)
def _count_ends(pair, counts5, counts3):
    """Add the pair codes of a read's aligned columns (molecule orientation) at their distance
    from the 5' end to ``counts5`` and from the 3' end to ``counts3`` (int64, flat (P, 36))."""
    n = pair.shape[0]
    for p in range(min(n, counts5.shape[0] // 36)):
        pc = pair[p]
        if pc < 36:
            counts5[p * 36 + pc] += 1
        pc = pair[n - 1 - p]
        if pc < 36:
            counts3[p * 36 + pc] += 1


@_jit(nogil=True)
def process_reads(
    kept,
    lo,
    hi,
    seq,
    seq_off,
    qual,
    qual_off,
    cig,
    cig_off,
    md,
    md_off,
    use_md,
    refarr,
    pos,
    rev,
    lt,
    n_pos,
    k,
    skip_bad_md,
    upper,
    code,
    comp_ascii,
    comp_code,
    cigar_op,
    out_seq,
    out_ref,
    out_qual,
    out_off,
    ms5,
    ms3,
    k_off,
    gc,
    n_mism,
    sc5_out,
    sc3_out,
    span_out,
    counts,
    status,
    info,
    scratch_ops,
    scratch_span,
    scratch_base,
):
    """Process kept reads ``kept[lo:hi]`` of one batch (all on the contig of ``refarr``).

    Args (arrays are numpy; i = index into the batch's records, j = index into ``kept``):
        kept: int64 record indices of the kept reads. lo, hi: range of ``kept`` to process.
        seq, qual, cig, md: uint8 concatenated SEQ (ASCII), QUAL (Phred+33), CIGAR strings and MD
            tags of all records of the batch; ``*_off`` int64 (records + 1) offsets. A QUAL of
            length 0 is written as '?' (Phred 30) as pysam's absent qualities.
        use_md: rebuild the reference from the MD tags (``refarr`` unused) instead of ``refarr``,
            the uppercase ASCII uint8 bases of the contig of these reads.
        pos: int64 0-based leftmost reference positions (records). rev: bool reverse strand
            (records). lt: int64 local contig index of each kept read (j) into ``counts``.
        n_pos: positions from each end counted (P). k: positions of the mismatch strings.
        upper, code, comp_ascii, comp_code, cigar_op: lookup tables (uppercase ASCII, base code
            A C G T N - = 0..5, ASCII complement, code complement, CIGAR character -> op).
        out_seq, out_ref, out_qual: uint8 per base of the kept reads in molecule orientation at
            ``out_off[j]`` (int64, kept + 1). ms5 / ms3: uint8 mismatch strings at ``k_off[j]``.
        gc (float32), n_mism (int32), sc5_out / sc3_out (int64 soft clips, alignment
            orientation), span_out (int64 reference span): per kept read (j).
        counts: int64 flat (contigs, 2 ends, 2 strands, P, 6, 6), added to.
        status: int64 per kept read (j), info: int64 (kept, 2): see the module docstring.
        scratch_ops: int64 (2, n) with n >= the largest number of CIGAR operations;
            scratch_span: uint8 with length >= the largest reference span (MD mode);
            scratch_base: uint8 (3, n) with n >= the longest read.

    Returns:
        j of the first read with a fatal status, or -1.
    """
    for j in range(lo, hi):
        i = kept[j]
        s0 = seq_off[i]
        qlen = seq_off[i + 1] - s0
        q0 = qual_off[i]
        has_qual = qual_off[i + 1] - q0 > 0
        is_rev = rev[i]
        o0 = out_off[j]
        # ---- CIGAR: ops, clips, column count, reference span, expected MD span
        n_ops = 0
        num = 0
        c_end = cig_off[i + 1]
        for c in range(cig_off[i], c_end):
            ch = cig[c]
            if ch >= 48 and ch <= 57:
                num = num * 10 + (ch - 48)
            else:
                op = cigar_op[ch]
                if op == 9:
                    status[j] = BAD_OP
                    info[j, 0] = ch
                    return j
                if op == 3 and use_md:
                    status[j] = SKIP_NO_REF
                    return j
                scratch_ops[0, n_ops] = op
                scratch_ops[1, n_ops] = num
                n_ops += 1
                num = 0
        first = 0
        last = n_ops
        while first < last and scratch_ops[0, first] == 5:
            first += 1
        while last > first and scratch_ops[0, last - 1] == 5:
            last -= 1
        sc5 = 0
        sc3 = 0
        if first < last and scratch_ops[0, first] == 4:
            sc5 = scratch_ops[1, first]
        if last > first and scratch_ops[0, last - 1] == 4:
            sc3 = scratch_ops[1, last - 1]
        n_col = 0
        span = 0
        md_expected = 0
        n_match = 0
        q_total = 0
        has_del = False
        for t in range(n_ops):
            op = scratch_ops[0, t]
            ln = scratch_ops[1, t]
            if op == 0 or op == 7 or op == 8:
                n_col += ln
                span += ln
                md_expected += ln
                n_match += ln
            elif op == 1:
                n_col += ln
            elif op == 2:
                n_col += ln
                span += ln
                md_expected += ln
                has_del = True
            elif op == 3:
                span += ln
            if op == 0 or op == 1 or op == 4 or op == 7 or op == 8:
                q_total += ln
        if n_ops > 0 and q_total != qlen:
            status[j] = BAD_QLEN
            info[j, 0] = q_total
            info[j, 1] = qlen
            return j
        sc5_out[j] = sc5
        sc3_out[j] = sc3
        span_out[j] = span
        # one M/=/X operation between optional soft clips (after hard clips)
        m = first
        if m < last and scratch_ops[0, m] == 4:
            m += 1
        m2 = m + 1
        if m2 < last and scratch_ops[0, m2] == 4:
            m2 += 1
        op = scratch_ops[0, m] if m < last else 9
        one_block = m2 == last and (op == 0 or op == 7 or op == 8)
        # ---- MD mode: the reference over M/=/X and D columns, in reference order
        if use_md:
            m0 = md_off[i]
            m1 = md_off[i + 1]
            md_span = 0
            bad = False
            num = 0
            in_digits = False
            for c in range(m0, m1):
                ch = md[c]
                if ch >= 48 and ch <= 57:
                    num = num * 10 + (ch - 48)
                    in_digits = True
                else:
                    if in_digits:
                        md_span += num
                        num = 0
                        in_digits = False
                    if (ch >= 65 and ch <= 90) or (ch >= 97 and ch <= 122):
                        md_span += 1
                    elif ch == 94:  # '^'
                        if not has_del:
                            bad = True
                    else:
                        bad = True
            if in_digits:
                md_span += num
            if bad or md_span != md_expected:
                status[j] = BAD_MD
                info[j, 0] = md_span
                info[j, 1] = md_expected
                if skip_bad_md:
                    continue
                return j
            # read bases at M/=/X positions in order -> fill the span from MD tokens
            a = 0  # aligned read bases consumed
            w = 0  # span bases written
            t = 0  # current CIGAR op (M/=/X only) and offset in it
            t_off = 0
            q_at = 0  # read offset of the start of op t
            num = 0
            in_digits = False
            c = m0
            while c <= m1:
                ch = md[c] if c < m1 else 0
                if ch >= 48 and ch <= 57:
                    num = num * 10 + (ch - 48)
                    in_digits = True
                    c += 1
                    continue
                if in_digits:
                    # copy num aligned read bases
                    for _ in range(num):
                        # advance to the next aligned read base
                        while t < n_ops:
                            op = scratch_ops[0, t]
                            if (op == 0 or op == 7 or op == 8) and t_off < scratch_ops[1, t]:
                                break
                            if op == 0 or op == 1 or op == 4 or op == 7 or op == 8:
                                q_at += scratch_ops[1, t]
                            t += 1
                            t_off = 0
                        if t >= n_ops:
                            break
                        scratch_span[w] = upper[seq[s0 + q_at + t_off]]
                        w += 1
                        t_off += 1
                        a += 1
                    num = 0
                    in_digits = False
                if c >= m1:
                    break
                if ch == 94:  # '^': deleted reference letters follow
                    c += 1
                    while c < m1 and (
                        (md[c] >= 65 and md[c] <= 90) or (md[c] >= 97 and md[c] <= 122)
                    ):
                        scratch_span[w] = upper[md[c]]
                        w += 1
                        c += 1
                    continue
                # a mismatch letter: consumes one aligned read base
                while t < n_ops:
                    op = scratch_ops[0, t]
                    if (op == 0 or op == 7 or op == 8) and t_off < scratch_ops[1, t]:
                        break
                    if op == 0 or op == 1 or op == 4 or op == 7 or op == 8:
                        q_at += scratch_ops[1, t]
                    t += 1
                    t_off = 0
                scratch_span[w] = upper[ch]
                w += 1
                t_off += 1
                a += 1
                c += 1
            if a != n_match or w != md_expected:
                status[j] = BAD_MD
                info[j, 0] = md_span
                info[j, 1] = md_expected
                if skip_bad_md:
                    continue
                return j
        # ---- one-block reads: per base in molecule orientation, straight from the reference
        if one_block:
            ml = scratch_ops[1, m]
            r0 = pos[i]
            if use_md:
                ref_seg = scratch_span[:ml]
            else:
                if r0 + ml > refarr.shape[0]:
                    status[j] = PAST_END
                    info[j, 0] = refarr.shape[0]
                    return j
                ref_seg = refarr[r0 : r0 + ml]
            pair_row = scratch_base[2]
            c0 = sc3 if is_rev else sc5  # the molecule's 5' clip
            c1 = c0 + ml
            xl = comp_ascii if is_rev else upper
            base_counts = 0  # A C G T bases + (G or C bases << 32)
            for b in range(c0):  # 5' soft clip
                sb = xl[seq[s0 + (qlen - 1 - b if is_rev else b)]]
                out_seq[o0 + b] = sb
                out_ref[o0 + b] = 45  # '-'
                base_counts += _BASE_COUNT[sb]
                pair_row[b] = _CLIP_PAIR[sb]
            if is_rev:
                base_counts, mism = _aligned_reverse(
                    seq[s0 + sc5 : s0 + sc5 + ml], ref_seg, out_seq[o0 + c0 : o0 + c1],
                    out_ref[o0 + c0 : o0 + c1], pair_row[c0:c1], comp_ascii, base_counts,
                )  # fmt: skip
            else:
                base_counts, mism = _aligned_forward(
                    seq[s0 + c0 : s0 + c1], ref_seg, out_seq[o0 + c0 : o0 + c1],
                    out_ref[o0 + c0 : o0 + c1], pair_row[c0:c1], base_counts,
                )  # fmt: skip
            for b in range(c1, qlen):  # 3' soft clip
                sb = xl[seq[s0 + (qlen - 1 - b if is_rev else b)]]
                out_seq[o0 + b] = sb
                out_ref[o0 + b] = 45
                base_counts += _BASE_COUNT[sb]
                pair_row[b] = _CLIP_PAIR[sb]
            if not has_qual:
                out_qual[o0 : o0 + qlen] = 63  # '?'
            elif is_rev:
                _reversed_copy(qual[q0 : q0 + qlen], out_qual[o0 : o0 + qlen])
            else:
                out_qual[o0 : o0 + qlen] = qual[q0 : q0 + qlen]
            n_acgt = base_counts & 0xFFFFFFFF
            n_gc = base_counts >> 32
            gc[j] = np.float32(n_gc / n_acgt) if n_acgt > 0 else np.float32(np.nan)
            n_mism[j] = mism
            kk = min(qlen, k)
            k0 = k_off[j]
            _mismatch_strings(pair_row[:qlen], ms5[k0 : k0 + kk], ms3[k0 : k0 + kk])
            strand = 1 if is_rev else 0
            key5 = ((lt[j] * 4 + strand) * n_pos) * 36
            key3 = ((lt[j] * 4 + 2 + strand) * n_pos) * 36
            _count_ends(
                pair_row[c0:c1], counts[key5 : key5 + n_pos * 36], counts[key3 : key3 + n_pos * 36]
            )
            continue
        # ---- reference per read base (alignment orientation, scratch_base[0]); '-' if not aligned
        simple = True  # one M/=/X block between the clips: the columns are the aligned bases
        q = 0
        r = pos[i]
        w = 0
        for t in range(n_ops):
            op = scratch_ops[0, t]
            ln = scratch_ops[1, t]
            if op == 0 or op == 7 or op == 8:
                if use_md:
                    for b in range(ln):
                        scratch_base[0, q + b] = scratch_span[w + b]
                    w += ln
                else:
                    if r + ln > refarr.shape[0]:
                        status[j] = PAST_END
                        info[j, 0] = refarr.shape[0]
                        return j
                    for b in range(ln):
                        scratch_base[0, q + b] = refarr[r + b]
                q += ln
                r += ln
            elif op == 1 or op == 4:
                for b in range(ln):
                    scratch_base[0, q + b] = 45  # '-'
                q += ln
                if op == 1 or (t != first and t != last - 1):
                    simple = False
            elif op == 2:
                if not use_md and r + ln > refarr.shape[0]:
                    status[j] = PAST_END
                    info[j, 0] = refarr.shape[0]
                    return j
                w += ln
                r += ln
                simple = False
            elif op == 3:
                r += ln
                simple = False
        # ---- per read base, molecule orientation: bases, codes, summaries, mismatch bytes and
        # the (reference, read) pair code of each base (36: an N, not counted)
        n_gc = 0
        n_acgt = 0
        mism = 0
        last_b = qlen - 1
        for b in range(qlen):
            a = last_b - b if is_rev else b  # alignment-orientation index of molecule base b
            sb = upper[seq[s0 + a]]
            rb = scratch_base[0, a]
            if is_rev:
                sb = comp_ascii[sb]
                rb = comp_ascii[rb]
            out_seq[o0 + b] = sb
            out_ref[o0 + b] = rb
            sc = code[sb]
            rc = code[rb]
            if sc < _N:
                n_acgt += 1
                if sc == 1 or sc == 2:
                    n_gc += 1
            if rc == _N or sc == _N:
                scratch_base[1, b] = 78  # 'N'
                scratch_base[2, b] = 36
            elif rc == _GAP:
                scratch_base[1, b] = 45  # '-'
                scratch_base[2, b] = 36
            else:
                scratch_base[2, b] = rc * 6 + sc
                if sc != rc:
                    scratch_base[1, b] = rb
                    mism += 1
                else:
                    scratch_base[1, b] = 46  # '.'
        if not has_qual:
            for b in range(qlen):
                out_qual[o0 + b] = 63  # '?'
        elif is_rev:
            for b in range(qlen):
                out_qual[o0 + b] = qual[q0 + last_b - b]
        else:
            for b in range(qlen):
                out_qual[o0 + b] = qual[q0 + b]
        gc[j] = np.float32(n_gc / n_acgt) if n_acgt > 0 else np.float32(np.nan)
        n_mism[j] = mism
        # ---- mismatch strings at both ends (molecule orientation)
        kk = min(qlen, k)
        k0 = k_off[j]
        for b in range(kk):
            ms5[k0 + b] = scratch_base[1, b]
            ms3[k0 + b] = scratch_base[1, last_b - b]
        # ---- mapDamage counts over alignment columns
        strand = 1 if is_rev else 0
        key5 = ((lt[j] * 4 + strand) * n_pos) * 36
        key3 = ((lt[j] * 4 + 2 + strand) * n_pos) * 36
        if simple:
            # columns = aligned bases of the read; in molecule orientation they start after the
            # molecule's 5' clip (the 3' clip of reverse reads)
            c0 = sc3 if is_rev else sc5
            alen = qlen - sc5 - sc3
            for p in range(min(alen, n_pos)):
                pc = scratch_base[2, c0 + p]
                if pc < 36:
                    counts[key5 + p * 36 + pc] += 1
                pc = scratch_base[2, c0 + alen - 1 - p]
                if pc < 36:
                    counts[key3 + p * 36 + pc] += 1
        else:
            # general CIGAR: columns of M/=/X (read, reference), I (read, '-'), D ('-', reference)
            q = 0
            r = pos[i]
            w = 0
            col = 0
            for t in range(n_ops):
                op = scratch_ops[0, t]
                ln = scratch_ops[1, t]
                if op == 0 or op == 7 or op == 8 or op == 1:
                    for b in range(ln):
                        sb = upper[seq[s0 + q + b]]
                        if op == 1:
                            rb = np.uint8(45)
                        elif use_md:
                            rb = scratch_span[w + b]
                        else:
                            rb = refarr[r + b]
                        _count(
                            counts, key5, key3, is_rev, col, n_col, n_pos, sb, rb, code, comp_code
                        )
                        col += 1
                    q += ln
                    if op != 1:
                        r += ln
                        w += ln
                elif op == 2:
                    for b in range(ln):
                        if use_md:
                            rb = scratch_span[w + b]
                        else:
                            rb = refarr[r + b]
                        _count(
                            counts,
                            key5,
                            key3,
                            is_rev,
                            col,
                            n_col,
                            n_pos,
                            np.uint8(45),
                            rb,
                            code,
                            comp_code,
                        )
                        col += 1
                    r += ln
                    w += ln
                elif op == 4:
                    q += ln
                elif op == 3:
                    r += ln
    return -1


@_jit(nogil=True, inline="always")
def _count(counts, key5, key3, is_rev, col, n_col, n_pos, sb, rb, code, comp_code):
    """Add one alignment column (read byte sb, reference byte rb, alignment orientation)."""
    sc = code[sb]
    rc = code[rb]
    if sc == _N or rc == _N:
        return
    if is_rev:
        sc = comp_code[sc]
        rc = comp_code[rc]
    from_left = col
    from_right = n_col - 1 - col
    # 5' end of the molecule: the left end of forward reads, the right end of reverse reads
    p5 = from_right if is_rev else from_left
    p3 = from_left if is_rev else from_right
    pair = rc * 6 + sc
    if p5 < n_pos:
        counts[key5 + p5 * 36 + pair] += 1
    if p3 < n_pos:
        counts[key3 + p3 * 36 + pair] += 1


def load() -> float:
    """Load the compiled kernel now (compile it the first time, then from numba's on-disk cache).

    Loads the htslib reader's compiled loop and runs :func:`process_reads` on a one-read batch
    with the argument types of the extraction (the reader's writable byte buffers), so that a
    later call needs no compilation. The
    extraction does not need this (its first batch does the same); the benchmark calls it to report
    this one-time cost apart from the per-read work.

    Returns:
        CPU seconds the load took.
    """
    import time

    from genomelearn.adna import htslib_reader

    start = time.process_time()
    htslib_reader.load()
    seq = np.frombuffer(b"ACGT", dtype=np.uint8).copy()  # writable, as the htslib reader's
    off = np.array([0, 4], dtype=np.int64)
    cig = np.frombuffer(b"4M", dtype=np.uint8).copy()
    md = np.frombuffer(b"4", dtype=np.uint8).copy()
    one = np.zeros(1, dtype=np.int64)
    i64 = lambda n: np.zeros(n, dtype=np.int64)  # noqa: E731
    u8 = lambda n: np.zeros(n, dtype=np.uint8)  # noqa: E731
    process_reads(
        one, 0, 1, seq, off, seq, off, cig, np.array([0, 2], dtype=np.int64), md,
        np.array([0, 1], dtype=np.int64), True, u8(0), one, np.zeros(1, dtype=bool), one, 1, 1,
        False, UPPER_ASCII, CODE_LUT, COMPLEMENT_ASCII, COMPLEMENT_CODE, CIGAR_OP, u8(4), u8(4),
        u8(4), off, u8(1), u8(1), np.array([0, 1], dtype=np.int64), np.zeros(1, np.float32),
        np.zeros(1, np.int32), i64(1), i64(1), i64(1), i64(4 * 36), i64(1), np.zeros((1, 2), np.int64),
        np.zeros((2, 2), np.int64), u8(8), np.zeros((3, 4), np.uint8),
    )  # fmt: skip
    return time.process_time() - start
