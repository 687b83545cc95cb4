"""Stream C-SYNTH-style extxyz files frame by frame without building Atoms objects.

C-SYNTH-23M holds 23 million atoms; building ASE Atoms for all of them only to filter on the
comment line and to shuffle would cost hours and many GB.  Frames are therefore handled as raw
text blocks: the comment line is parsed with ASE's own extxyz key=value parser, and the atom lines
are copied verbatim.  Any frame that reaches a label or training step is read by ASE as usual.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import IO, Iterable, Iterator

import numpy as np
from ase.io.extxyz import key_val_str_to_dict


@dataclasses.dataclass(frozen=True)
class Block:
    info: dict          # the comment line's key=value pairs
    text: bytes         # the whole frame: count line, comment line, atom lines
    n_atoms: int


def blocks(stream: IO[bytes], name: str = "<stream>") -> Iterator[Block]:
    """The frames of an extxyz byte stream, in order."""
    index = 0
    while True:
        count_line = stream.readline()
        if not count_line:
            return
        if not count_line.strip():
            continue  # tolerate blank lines between frames
        try:
            n_atoms = int(count_line)
        except ValueError:
            raise ValueError(f"{name}: frame {index} does not start with an atom count: "
                             f"{count_line[:80]!r}") from None
        comment = stream.readline()
        lines = [stream.readline() for _ in range(n_atoms)]
        # readline() gives b"" past the end; a cut last line has fewer columns than the first
        if n_atoms and (not lines[-1].strip() or len(lines[-1].split()) != len(lines[0].split())):
            raise ValueError(f"{name}: frame {index} is truncated (expected {n_atoms} atom lines)")
        info = key_val_str_to_dict(comment.decode().strip())
        yield Block(info=info, text=count_line + comment + b"".join(lines), n_atoms=n_atoms)
        index += 1


class Pool:
    """Frames appended to one file, then written out in any order (for shuffled splits)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._handle = open(self.path, "w+b")
        self.offsets: list[int] = []
        self.lengths: list[int] = []
        self.n_atoms = 0

    def add(self, block: Block) -> None:
        self.offsets.append(self._handle.tell())
        self.lengths.append(len(block.text))
        self._handle.write(block.text)
        self.n_atoms += block.n_atoms

    def __len__(self) -> int:
        return len(self.offsets)

    def write(self, indices: Iterable[int], out: IO[bytes]) -> None:
        self._handle.flush()
        for i in np.asarray(indices, dtype=int):
            self._handle.seek(self.offsets[i])
            out.write(self._handle.read(self.lengths[i]))

    def close(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
