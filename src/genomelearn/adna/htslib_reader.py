"""BAM records in batches of byte buffers, read by htslib (the library inside pysam) in compiled code.

pysam's per-record loop costs about 1–1.6 µs per read in Python objects alone (``docs/ancient_dna.md``,
"pysam fields-only"), which is the floor of a pysam extraction. This reader calls htslib's own
``sam_read1`` (BGZF decompression and record parsing, from pysam's bundled ``libchtslib``) inside
a numba loop and copies each record's fields straight from htslib's ``bam1_t`` into the batch
buffers the extraction kernel reads (:mod:`genomelearn.adna._kernels`): no Python object per read.
It decodes no BAM bytes itself: the fields are read from htslib's in-memory record as htslib's
own accessor macros do (``bam_get_qname``, ``bam_get_cigar``, ``bam_get_seq``/``bam_seqi``,
``bam_get_qual``, ``bam_get_aux``; htslib ``sam.h``, the layout of ``bam1_t`` since htslib 1.10).

The text fields come out exactly as pysam returns them (the reader's tests compare them field by
field with pysam on every BAM of the test data): SEQ in ``=ACMGRSVTWYHKDBN``, CIGAR as text
(``""`` when absent), QUAL as Phred + 33 (``""`` when absent, htslib's 0xff), read name, and the
MD tag's text with a flag saying whether the read has one.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from llvmlite import ir
from numba import carray, njit, types
from numba.extending import intrinsic

from genomelearn.errors import InputError

# ------------------------------------------------------------------ htslib through ctypes


HTS_FEATURE_LIBDEFLATE = 1 << 20  # htslib hts.h: built with libdeflate (faster BGZF inflate)


def _version(lib: ctypes.CDLL) -> tuple[int, ...]:
    """htslib's ``hts_version()`` as a tuple of ints, e.g. (1, 16); () if it cannot be parsed."""
    lib.hts_version.restype = ctypes.c_char_p
    text = lib.hts_version().decode("ascii", "replace")
    parts = []
    for part in text.split("-")[0].split(".")[:3]:
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def _has_libdeflate(lib: ctypes.CDLL) -> bool:
    try:
        lib.hts_features.restype = ctypes.c_uint
        return bool(lib.hts_features() & HTS_FEATURE_LIBDEFLATE)
    except AttributeError:  # htslib < 1.11 has no hts_features
        return False


def _library(prefer_libdeflate: bool = True) -> ctypes.CDLL:
    """:func:`_load_library`, loaded once per choice (``_library()`` and ``_library(True)`` are the
    same library)."""
    return _load_library(bool(prefer_libdeflate))


@functools.lru_cache(maxsize=2)
def _load_library(prefer_libdeflate: bool) -> ctypes.CDLL:
    """An htslib with the signatures used here.

    Candidates, in order: the system's ``libhts`` when it is version 1.10 or later (the ``bam1_t``
    layout read here) and built with libdeflate (``hts_features``), because BGZF decompression is
    most of the reading time and libdeflate inflates faster than zlib, with which pysam's wheels
    build their htslib (``prefer_libdeflate``); pysam's ``libchtslib`` module (whose symbol lookup
    also searches the libraries it links: a conda pysam links a separate ``libhts``); else the
    system's ``libhts`` of any version from 1.10. Each library is loaded with its own symbol scope
    (``RTLD_LOCAL``), so a second htslib in the process does not interpose on pysam's.
    Which one is used: :func:`library_info`.

    Raises:
        OSError: no htslib with ``sam_read1`` can be loaded (see :func:`available`).
    """
    import ctypes.util

    import pysam.libchtslib

    system = ctypes.util.find_library("hts")
    candidates = [(system, True)] if prefer_libdeflate and system else []
    candidates += [(pysam.libchtslib.__file__, False), (system, False)]
    lib = None
    for path, need_libdeflate in candidates:
        if not path:
            continue
        try:
            candidate = ctypes.CDLL(path)
            candidate.sam_read1  # noqa: B018 (raises AttributeError when absent)
        except (OSError, AttributeError):
            continue
        if path == system and _version(candidate) < (1, 10):
            continue
        if need_libdeflate and not _has_libdeflate(candidate):
            continue
        lib = candidate
        lib.genomelearn_path = path
        break
    if lib is None:
        raise OSError("no htslib exporting sam_read1 found (pysam.libchtslib, libhts)")
    lib.hts_open.restype = ctypes.c_void_p
    lib.hts_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.hts_close.restype = ctypes.c_int
    lib.hts_close.argtypes = [ctypes.c_void_p]
    lib.sam_hdr_read.restype = ctypes.c_void_p
    lib.sam_hdr_read.argtypes = [ctypes.c_void_p]
    lib.sam_hdr_destroy.restype = None
    lib.sam_hdr_destroy.argtypes = [ctypes.c_void_p]
    lib.bam_init1.restype = ctypes.c_void_p
    lib.bam_init1.argtypes = []
    lib.bam_destroy1.restype = None
    lib.bam_destroy1.argtypes = [ctypes.c_void_p]
    return lib


def library_info() -> dict:
    """Which htslib the reader uses: ``{"path", "version", "libdeflate"}``.

    Raises:
        OSError: none can be loaded.
    """
    lib = _library()
    return {
        "path": lib.genomelearn_path,
        "version": ".".join(map(str, _version(lib))),
        "libdeflate": _has_libdeflate(lib),
    }


def available() -> bool:
    """True when htslib's functions can be loaded (else the extraction uses pysam's loop)."""
    try:
        _library()
    except OSError:
        return False
    return True


# ------------------------------------------------------------------ compiled helpers


@intrinsic
def _byte_pointer(typingctx, address):
    """An integer address as a uint8 pointer (for ``numba.carray``)."""
    sig = types.CPointer(types.uint8)(types.intp)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.uint8)))

    return sig, codegen


@intrinsic
def _call_read(typingctx, function, fp, header, record):
    """``int sam_read1(samFile *fp, sam_hdr_t *h, bam1_t *b)`` called through its address (an
    integer argument, so the compiled function holds no process-specific constant and is cached)."""
    sig = types.int32(types.intp, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        void_p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.IntType(32), [void_p, void_p, void_p])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        return builder.call(fn, [builder.inttoptr(a, void_p) for a in args[1:]])

    return sig, codegen


@njit(cache=True, inline="always")
def _u16(a, o):
    return np.int64(a[o]) | (np.int64(a[o + 1]) << 8)


@njit(cache=True, inline="always")
def _u32(a, o):
    return _u16(a, o) | (_u16(a, o + 2) << 16)


@njit(cache=True, inline="always")
def _i32(a, o):
    v = _u32(a, o)
    return v - (np.int64(1) << 32) if v >= (np.int64(1) << 31) else v


@njit(cache=True, inline="always")
def _i64(a, o):
    lo = _u32(a, o)
    hi = _i32(a, o + 4)
    return lo | (hi << 32)


_BAM1_T_SIZE = 80  # sizeof(bam1_t): core (48 bytes), id, data pointer, l_data, m_data, mempolicy
_SEQ_LETTERS = np.frombuffer(b"=ACMGRSVTWYHKDBN", dtype=np.uint8).copy()
_CIGAR_LETTERS = np.frombuffer(b"MIDNSHP=XBBBBBBB", dtype=np.uint8).copy()
_AUX_SIZE = np.zeros(256, dtype=np.int64)  # fixed-size aux types; 0 = variable or unknown
for _code, _size in ((b"A", 1), (b"c", 1), (b"C", 1), (b"s", 2), (b"S", 2)):
    _AUX_SIZE[_code[0]] = _size
for _code in (b"i", b"I", b"f"):
    _AUX_SIZE[_code[0]] = 4

#: ``read_batch`` status codes (second value returned)
MORE, END, FULL, BAD_AUX = 0, 1, 2, 3


# per-field copies over slices of one record (indices from 0, few live values: the compiler keeps
# these loops in registers, which it does not inside read_batch's many live buffers)
@njit(cache=True, nogil=True)
def _decode_seq(packed, dst, letters):
    """SEQ from its 4-bit codes, two bases per byte, high nibble first (``bam_seqi``)."""
    n = dst.shape[0]
    for i in range(n >> 1):
        byte = packed[i]
        dst[2 * i] = letters[byte >> 4]
        dst[2 * i + 1] = letters[byte & 0xF]
    if n & 1:
        dst[n - 1] = letters[packed[n >> 1] >> 4]


@njit(cache=True, nogil=True)
def _phred33(src, dst):
    for i in range(dst.shape[0]):
        dst[i] = src[i] + 33


@njit(cache=True, nogil=True)
def read_batch(
    read_fn,
    fp,
    header,
    record,
    pending,
    max_records,
    want_md,
    seq_letters,
    cigar_letters,
    aux_size,
    flag,
    tid,
    pos,
    mapq,
    tlen,
    name_buf,
    name_off,
    cig_buf,
    cig_off,
    seq_buf,
    seq_off,
    qual_buf,
    qual_off,
    md_buf,
    md_off,
    has_md,
):
    """Read up to ``max_records`` records into the batch buffers.

    Args:
        read_fn, fp, header, record: addresses of ``sam_read1``, the open ``samFile``, its header
            and a ``bam1_t`` (int).
        pending: the ``bam1_t`` already holds a record a previous call could not store (FULL).
        want_md: also copy the MD tag (``has_md`` says whether a read has one).
        seq_letters, cigar_letters, aux_size: lookup tables (module constants).
        flag, tid, pos, mapq, tlen: int64 (max_records,) outputs.
        *_buf / *_off: uint8 buffers and int64 (max_records + 1,) offsets (``*_off[0]`` = 0).

    Returns:
        (records stored n, status: MORE (batch full of records), END (end of file), FULL (the next
        record does not fit the buffers: it stays in ``record``, call again with pending and
        larger buffers if n == 0), BAD_AUX (a read's aux data are malformed), or a negative
        ``sam_read1`` code (truncated or corrupt file)).
    """
    n = 0
    while n < max_records:
        if pending:
            pending = False
        else:
            ret = _call_read(read_fn, fp, header, record)
            if ret == -1:
                return n, END
            if ret < -1:
                return n, ret
        core = carray(_byte_pointer(record), _BAM1_T_SIZE)
        l_qname = _u16(core, 18)
        l_extranul = np.int64(core[15])
        n_cigar = _u32(core, 20)
        l_qseq = _i32(core, 24)
        l_data = _i32(core, 64)
        data = carray(_byte_pointer(_i64(core, 56)), l_data)
        name_len = l_qname - 1 - l_extranul
        # CIGAR text: at most 10 digits + 1 letter per operation
        cig_o = l_qname
        seq_o = cig_o + 4 * n_cigar
        qual_o = seq_o + (l_qseq + 1) // 2
        aux_o = qual_o + l_qseq
        if (
            name_off[n] + name_len > name_buf.size
            or cig_off[n] + 11 * n_cigar > cig_buf.size
            or seq_off[n] + l_qseq > seq_buf.size
            or qual_off[n] + l_qseq > qual_buf.size
            or (want_md and md_off[n] + (l_data - aux_o) > md_buf.size)
        ):
            return n, FULL
        pos[n] = _i64(core, 0)
        tid[n] = _i32(core, 8)
        mapq[n] = core[14]
        flag[n] = _u16(core, 16)
        tlen[n] = _i64(core, 40)
        o = name_off[n]
        name_buf[o : o + name_len] = data[:name_len]
        name_off[n + 1] = o + name_len
        o = cig_off[n]
        for c in range(n_cigar):
            v = _u32(data, cig_o + 4 * c)
            length = v >> 4
            digits = 1
            t = length
            while t >= 10:
                t //= 10
                digits += 1
            for d in range(digits - 1, -1, -1):
                cig_buf[o + d] = 48 + length % 10
                length //= 10
            o += digits
            cig_buf[o] = cigar_letters[v & 0xF]
            o += 1
        cig_off[n + 1] = o
        o = seq_off[n]
        _decode_seq(data[seq_o:qual_o], seq_buf[o : o + l_qseq], seq_letters)
        seq_off[n + 1] = o + l_qseq
        o = qual_off[n]
        if l_qseq > 0 and data[qual_o] != 0xFF:
            _phred33(data[qual_o:aux_o], qual_buf[o : o + l_qseq])
            qual_off[n + 1] = o + l_qseq
        else:
            qual_off[n + 1] = o
        if want_md:
            has_md[n] = False
            md_off[n + 1] = md_off[n]
            a = aux_o
            while a + 3 <= l_data:
                kind = data[a + 2]
                is_md = data[a] == 77 and data[a + 1] == 68  # "MD"
                a += 3
                size = aux_size[kind]
                if size > 0:
                    a += size
                elif kind == 90 or kind == 72:  # Z, H: NUL-terminated
                    start = a
                    while a < l_data and data[a] != 0:
                        a += 1
                    if a >= l_data:
                        return n, BAD_AUX
                    if is_md and kind == 90:
                        o = md_off[n]
                        for i in range(a - start):
                            md_buf[o + i] = data[start + i]
                        md_off[n + 1] = o + a - start
                        has_md[n] = True
                    a += 1
                elif kind == 66:  # B: subtype, int32 count, values
                    if a + 5 > l_data:
                        return n, BAD_AUX
                    sub = aux_size[data[a]]
                    count = _u32(data, a + 1)
                    if sub == 0:
                        return n, BAD_AUX
                    a += 5 + sub * count
                else:
                    return n, BAD_AUX
                if has_md[n]:
                    break
        else:
            md_off[n + 1] = md_off[n]
        n += 1
    return n, MORE


# ------------------------------------------------------------------ Python side


@dataclass
class RecordBatch:
    """One batch of records as arrays (n records): int64 ``flag``, ``tid``, ``pos`` (0-based),
    ``mapq``, ``tlen``; uint8 byte buffers with int64 (n + 1,) offsets for ``name``, ``cigar``
    (text), ``seq`` (letters), ``qual`` (Phred + 33; empty when absent) and ``md`` (MD tag text;
    ``has_md`` bool (n,), or None when the MD tags were not read)."""

    flag: np.ndarray
    tid: np.ndarray
    pos: np.ndarray
    mapq: np.ndarray
    tlen: np.ndarray
    name: np.ndarray
    name_off: np.ndarray
    cigar: np.ndarray
    cigar_off: np.ndarray
    seq: np.ndarray
    seq_off: np.ndarray
    qual: np.ndarray
    qual_off: np.ndarray
    md: np.ndarray
    md_off: np.ndarray
    has_md: np.ndarray | None

    def __len__(self) -> int:
        return len(self.flag)

    def text(self, field: str, i: int) -> str:
        """Record ``i``'s ``name``, ``cigar``, ``seq``, ``qual`` or ``md`` as str."""
        buf, off = getattr(self, field), getattr(self, f"{field}_off")
        return bytes(buf[off[i] : off[i + 1]]).decode("ascii", errors="replace")


class HtslibReader:
    """Stream a BAM's records (all of them, in file order, as ``pysam``'s
    ``fetch(until_eof=True)``) in :class:`RecordBatch` batches.

    Args:
        path: the BAM (opened by htslib ``hts_open``; its validation, index and header checks are
            the caller's: :func:`genomelearn.adna.bamcheck.open_bam`).
        where: the "sample …, file …" prefix of error messages.
        batch_size: records per batch.
        want_md: also read the MD tags.
        prefer_libdeflate: use the system's htslib when it is built with libdeflate (see
            :func:`_load_library`; False: pysam's own htslib first).

    Raises:
        InputError: the file cannot be opened or its header read (on construction); a record
            cannot be read (truncated or corrupt BAM) or has malformed aux data (from
            :meth:`batches`).
    """

    def __init__(
        self,
        path,
        where: str,
        batch_size: int = 5000,
        want_md: bool = False,
        prefer_libdeflate: bool = True,
    ):
        self.path = Path(path)
        self.where = where
        self.batch_size = int(batch_size)
        self.want_md = bool(want_md)
        self._lib = _library(prefer_libdeflate)
        self._fp = self._lib.hts_open(str(self.path).encode(), b"r")
        if not self._fp:
            raise InputError(f"{where}: htslib cannot open the BAM")
        self._header = self._lib.sam_hdr_read(self._fp)
        if not self._header:
            self._lib.hts_close(self._fp)
            raise InputError(f"{where}: htslib cannot read the BAM header")
        self._record = self._lib.bam_init1()
        self._read_fn = ctypes.cast(self._lib.sam_read1, ctypes.c_void_p).value
        self._bytes_per_record = 256  # grows to the largest record seen

    def close(self) -> None:
        """Free htslib's record, header and file (idempotent)."""
        if self._record:
            self._lib.bam_destroy1(self._record)
            self._record = None
        if self._header:
            self._lib.sam_hdr_destroy(self._header)
            self._header = None
        if self._fp:
            self._lib.hts_close(self._fp)
            self._fp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def _buffers(n: int, per_record: int) -> list[np.ndarray]:
        """Batch buffers for ``n`` records of up to ``per_record`` bytes per text field."""
        size = n * per_record
        out = [np.empty(n, dtype=np.int64) for _ in range(5)]
        for _ in range(5):  # name, cigar, seq, qual, md
            out.append(np.empty(size, dtype=np.uint8))
            off = np.empty(n + 1, dtype=np.int64)
            off[0] = 0
            out.append(off)
        out.append(np.zeros(n, dtype=np.bool_))
        return out

    def batches(self):
        """Yield :class:`RecordBatch` batches until the end of the file."""
        n_before = 0
        pending = False
        while True:
            per_record = self._bytes_per_record
            bufs = self._buffers(self.batch_size, per_record)
            n, status = read_batch(
                self._read_fn, self._fp, self._header, self._record, pending, self.batch_size,
                self.want_md, _SEQ_LETTERS, _CIGAR_LETTERS, _AUX_SIZE, *bufs,
            )  # fmt: skip
            pending = status == FULL
            if pending and n < self.batch_size // 2:  # long reads: larger buffers per record
                self._bytes_per_record *= 2
                if n == 0:
                    continue
            if status == BAD_AUX:
                raise InputError(
                    f"{self.where}: record {n_before + n + 1} has malformed aux (tag) data: "
                    f"corrupt BAM"
                )
            if status < 0:
                raise InputError(
                    f"{self.where}: record {n_before + n + 1} cannot be read (htslib sam_read1 "
                    f"returned {status}): truncated or corrupt BAM"
                )
            if n:
                yield _trim(bufs, n, self.want_md)
                n_before += n
            if status == END:
                return


def load() -> None:
    """Load :func:`read_batch` now (compiled the first time, then from numba's on-disk cache)
    with the argument types of :meth:`HtslibReader.batches`; it reads nothing (0 records)."""
    bufs = HtslibReader._buffers(1, 1)
    read_batch(0, 0, 0, 0, False, 0, False, _SEQ_LETTERS, _CIGAR_LETTERS, _AUX_SIZE, *bufs)


def _trim(bufs: list[np.ndarray], n: int, want_md: bool) -> RecordBatch:
    flag, tid, pos, mapq, tlen = (a[:n] for a in bufs[:5])
    texts = []
    for j in range(5):
        buf, off = bufs[5 + 2 * j], bufs[6 + 2 * j]
        off = off[: n + 1]
        texts += [buf[: off[-1]], off]
    has_md = bufs[15][:n] if want_md else None
    return RecordBatch(flag, tid, pos, mapq, tlen, *texts, has_md)
