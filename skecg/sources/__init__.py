"""Where the signals of :class:`skecg.ECGRecords` come from.

How records are read lazily is told in one place: :mod:`skecg._records._lazy`.
Each kind of source is a short class in its own module: an in-memory array
(:class:`ArraySource`), a skecg store (:class:`StoreSource`, the format in
:mod:`skecg.sources._store`), CODE-15%/TNMG HDF5 parts (:class:`Code15Source`).
Users open them with :func:`skecg.io.open_store` and :func:`skecg.io.read_code15`.
A folder of challenge WFDB records read on demand is :class:`WFDBFolderSource` (the
format in :mod:`skecg._wfdb`), opened with :func:`skecg.io.open_wfdb_folder`.
"""

import lazy_loader as _lazy

# submodules load on first use of one of their names
__getattr__, __dir__, _ = _lazy.attach(__name__, submod_attrs={
    "_base": ["SignalSource", "SourceError"],
    "_code15": ["Code15Source"],
    "_concat": ["ConcatSource"],
    "_lazy": ["LazySignals", "decode_index", "encode_index", "max_load_bytes"],
    "_memory": ["ArraySource"],
    "_store": ["StoreSource", "StoreWriter", "is_store", "read_manifest", "write_records"],
    "_wfdb_folder": ["WFDBFolderSource"],
})

__all__ = [
    "ArraySource", "Code15Source", "ConcatSource", "LazySignals", "SignalSource", "SourceError", "StoreSource",
    "StoreWriter", "WFDBFolderSource", "decode_index", "encode_index", "is_store", "max_load_bytes",
    "read_manifest", "write_records",
]
