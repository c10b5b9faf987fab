"""Writing frames to GIF, MP4, a folder of PNG frames or one PNG, atomically, as generators yielding progress.

Every writer renders frames on demand through `frame_at(i) -> (H, W, 4) uint8 RGBA`, writes under a temporary name
in the target folder and renames at the very end; closing the generator early (Cancel) or an error removes the
temporary output and leaves any earlier file of the same name untouched.

Interrupts during an export follow nnlab.interrupts: temporary names are taken inside deferred_interrupts()
blocks and every commit (rename over the user's file) calls check_interrupt() first.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Generator

import numpy as np

from nnlab.errors import NnlabError
from nnlab.interrupts import check_interrupt, deferred_interrupts

if TYPE_CHECKING:  # Pillow is imported where frames are encoded
    from PIL import Image

FrameFn = Callable[[int], np.ndarray]
GIF_SAMPLE_FRAMES = 12  # frames the global GIF palette is quantized from
GIF_PENDING = 4  # rendered frames that may wait for palette mapping


@dataclass(frozen=True)
class ExportProgress:
    """stage: prepare | train | optimize | render | write; done of total (total 0: unknown)."""

    stage: str
    done: int
    total: int
    message: str = ""


class ExportError(NnlabError):
    """Bad export options or output path; the message is one line."""


def _temp_beside(path: Path, suffix: str = ".part") -> str:
    """An empty temporary file in the target's folder (so the final rename stays on one file system). Callers
    assign it inside a deferred_interrupts() block within their try, so an interrupt never loses its name."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return tmp


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def _publish(tmp: str, path: Path, mode: int = 0o666) -> None:
    """Give the temporary output the permissions a plain open() would, then rename it over `path` -- unless an
    interrupt arrived (the rename is the commit point of an export)."""
    os.chmod(tmp, mode & ~_umask())
    with deferred_interrupts():
        check_interrupt()
        os.replace(tmp, path)


def _unlink(p: str | None) -> None:
    if p:
        try:
            os.unlink(p)
        except OSError:
            pass


def global_palette(frames: list[np.ndarray]):
    """A 256-colour Pillow palette image quantized once from sample frames (median cut, no dithering).

    Colours covering over 1% of the sample (the background, text) are kept exactly, so white stays white.
    """
    from PIL import Image

    step = max(1, int(np.sqrt(sum(f.shape[0] * f.shape[1] for f in frames) / 4e5)))
    # every step-th pixel, cut before copying (copying whole frames first took 48 ms of 12 at 800x600)
    sample = np.concatenate([np.asarray(f, dtype=np.uint8)[::step, ::step, :3].reshape(-1, 3) for f in frames])
    packed = (sample[:, 0].astype(np.uint32) << 16) | (sample[:, 1].astype(np.uint32) << 8) | sample[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:8]
    exact = [int(values[k]) for k in order if counts[k] > 0.01 * len(sample)]
    side = int(np.ceil(np.sqrt(len(sample))))
    pad = np.repeat(sample[:1], side * side - len(sample), axis=0)
    img = Image.fromarray(np.concatenate([sample, pad]).reshape(side, side, 3), "RGB")
    quant = img.quantize(colors=256 - len(exact), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    used = len(quant.getcolors(256) or []) or 256 - len(exact)
    pal = quant.getpalette()[:3 * used]
    for c in exact:
        pal += [(c >> 16) & 255, (c >> 8) & 255, c & 255]
    pal += pal[:3] * (256 - len(pal) // 3)
    out = Image.new("P", (1, 1))
    out.putpalette(pal)
    return out, [(c, used + k) for k, c in enumerate(exact)]


def to_palette(frame: np.ndarray, palette) -> "Image.Image":
    """Map a frame ((H, W, 3) RGB or (H, W, 4) RGBA, alpha ignored) to the global palette without dithering; the
    exact colours keep their exact entries (Pillow's mapping goes through a coarse colour cache and would turn white
    into 252).

    An RGBA frame is handed to Pillow as it is (its raw "RGBX" unpacking, 0.1 ms at 800x600, where cutting the
    alpha off in numpy took 3 ms) and its exact colours are found on its pixels read as 32-bit words (one compare
    per colour instead of packing three channels); the palette indices are the same either way."""
    from PIL import Image

    pal_img, exact = palette
    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    h, w = frame.shape[:2]
    if frame.shape[2] == 4:
        im = Image.frombytes("RGB", (w, h), frame, "raw", "RGBX")
        if exact:
            packed = frame.view("<u4")[..., 0] & np.uint32(0xFFFFFF)  # little-endian words: r | g << 8 | b << 16
            exact = [(((c & 255) << 16) | (c & 0xFF00) | (c >> 16), k) for c, k in exact]
    else:
        im = Image.fromarray(frame, "RGB")
        if exact:
            packed = (frame[..., 0].astype(np.uint32) << 16) | (frame[..., 1].astype(np.uint32) << 8) | frame[..., 2]
    im = im.quantize(palette=pal_img, dither=Image.Dither.NONE)
    if not exact:
        return im
    idx = np.array(im)
    for c, k in exact:
        idx[packed == c] = k
    out = Image.fromarray(idx, "P")
    out.putpalette(pal_img.getpalette())
    return out


class GifStream:
    """A GIF written frame by frame, byte for byte what Pillow's `save(save_all=True, optimize=False,
    disposal=1)` writes for the same palette images, without holding the frames: Pillow's multi-frame writer keeps
    every frame until the end (to crop each to its difference with the previous one and to merge the durations
    of repeated frames); here only the previous frame and one frame waiting for its duration are kept.

    Uses Pillow's GIF helpers (GifImagePlugin._normalize_palette, _getbbox, _get_global_header,
    _write_frame_data); tests/engine/test_export.py compares the bytes with Pillow's own save_all.
    """

    def __init__(self, fh, duration: int, loop: bool) -> None:
        self._fh = fh
        self._info: dict = {"duration": duration, "disposal": 1, "optimize": False, **({"loop": 0} if loop else {})}
        self._previous = None  # the last distinct frame (palette image), for the difference box of the next
        self._pending: tuple | None = None  # (image, bbox or None for the first, encoderinfo) not yet written
        self._count = 0

    def add(self, im: "Image.Image") -> None:
        """Append a palette ("P") image."""
        from PIL import GifImagePlugin as G

        im = im.copy()
        info = self._info.copy()
        im = G._normalize_palette(im, None, info)
        if self._previous is not None:
            _, bbox = G._getbbox(self._previous, im)
            if not bbox:  # the same picture again: the waiting frame shows longer
                self._pending[2]["duration"] = self._pending[2].get("duration", 0) + info["duration"]
                return
            self._flush()
            info["include_color_table"] = True
            self._pending = (im, bbox, info)
        else:
            self._pending = (im, None, info)
        self._previous = im
        self._count += 1

    def _flush(self) -> None:
        from PIL import GifImagePlugin as G

        if self._pending is None:
            return
        im, bbox, info = self._pending
        self._pending = None
        if bbox is None:
            for s in G._get_global_header(im, info):
                self._fh.write(s)
            offset = (0, 0)
        else:
            if bbox != (0, 0, *im.size):
                im = im.crop(bbox)
            offset = bbox[:2]
        G._write_frame_data(self._fh, im, offset, info)

    def close(self) -> None:
        """Write the waiting frame and the trailer. A single distinct frame is written as Pillow writes a still
        (no animation extension), as its save_all does."""
        if self._count == 1 and self._pending is not None:
            from PIL import GifImagePlugin as G

            im, _, info = self._pending
            self._pending = None
            im.encoderinfo = {**info}
            G._write_single_frame(im, self._fh, None)
        self._flush()
        self._fh.write(b";")
        self._fh.flush()


def write_gif(path: Path, frame_at: FrameFn, n: int, fps: float, loop: bool) -> Generator[ExportProgress, None, Path]:
    """GIF with ONE global palette from a sample of frames; each frame mapped to it without dithering.

    Frames are rendered here (the caller's thread: the GL context lives there) while a worker thread maps the
    previous ones to the palette and LZW-encodes them into the file (Pillow and numpy release the GIL), so mapping
    and encoding overlap rendering. At most GIF_PENDING frames wait, and the frames are streamed to the file
    (memory does not grow with the number of frames); the bytes are those of Pillow's save_all (GifStream).
    """
    from concurrent.futures import ThreadPoolExecutor

    sample_idx = sorted({round(k * (n - 1) / max(1, GIF_SAMPLE_FRAMES - 1)) for k in range(min(n, GIF_SAMPLE_FRAMES))})
    cache: dict[int, np.ndarray] = {}
    for k, i in enumerate(sample_idx):
        cache[i] = np.asarray(frame_at(i), dtype=np.uint8)
        yield ExportProgress("render", k + 1, n, "sampling the palette")
    tmp = fh = None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnlab-gif")
    try:
        with deferred_interrupts():
            tmp = _temp_beside(path)
        fh = open(tmp, "wb")
        stream = GifStream(fh, round(1000 / fps), loop)
        palette = pool.submit(global_palette, list(cache.values()))  # quantized while the next frames render
        queued = []
        done = len(cache)
        for i in range(n):
            frame = cache.pop(i, None)
            if frame is None:
                frame = np.asarray(frame_at(i), dtype=np.uint8)
                done += 1
            # one worker: frames are added in order
            queued.append(pool.submit(lambda f=frame: stream.add(to_palette(f, palette.result()))))
            if len(queued) > GIF_PENDING:
                queued.pop(0).result()  # bound the frames held in memory (and raise a worker's error)
            yield ExportProgress("render", done, n, f"frame {i + 1}/{n}")
        for f in (palette, *queued):
            f.result()
        yield ExportProgress("write", n, n, "writing GIF")
        stream.close()
        fh.close()
        _publish(tmp, path)
        tmp = None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # the worker stops writing before the file is closed
        if fh is not None:
            fh.close()
        _unlink(tmp)
    return path


def write_mp4(path: Path, frame_at: FrameFn, n: int, fps: float) -> Generator[ExportProgress, None, Path]:
    """H.264 MP4 (yuv420p, so odd sizes are padded by one pixel; x264 preset veryfast) through imageio-ffmpeg.

    Frames are piped to ffmpeg from a worker thread (a pipe write blocks until ffmpeg has taken the frame), so
    rendering the next frame overlaps encoding this one; at most GIF_PENDING frames wait, in order."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ExportError("MP4 export needs imageio-ffmpeg: pip install 'nnlab[video]'") from None
    from concurrent.futures import ThreadPoolExecutor

    tmp = writer = None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnlab-mp4")
    try:
        with deferred_interrupts():
            tmp = _temp_beside(path, ".part.mp4")
        queued = []

        def send(frame: np.ndarray) -> None:  # on the worker
            # RGBA as rendered: ffmpeg drops the alpha itself (the same video, byte for byte, as from an RGB copy,
            # which cost 6 ms a frame at 1280x720)
            if frame.shape[2] == 3:
                frame = np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)])
            h, w = frame.shape[:2]
            if h % 2 or w % 2:
                frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            writer.send(np.ascontiguousarray(frame))

        for i in range(n):
            frame = np.asarray(frame_at(i), dtype=np.uint8)
            if writer is None:
                h, w = frame.shape[:2]
                writer = imageio_ffmpeg.write_frames(
                    tmp, (w + w % 2, h + h % 2), fps=fps, codec="libx264", pix_fmt_in="rgba",
                    pix_fmt_out="yuv420p", quality=8, macro_block_size=1, ffmpeg_log_level="error",
                    # x264's veryfast preset: 2.2x faster than its default (medium) at 1280x720, files within 2%
                    # at this quality (crf 10); one thread and bitexact: the same bytes every run
                    output_params=["-f", "mp4", "-preset", "veryfast", "-threads", "1", "-fflags", "+bitexact",
                                   "-flags", "+bitexact"])
                writer.send(None)
            queued.append(pool.submit(send, frame))
            if len(queued) > GIF_PENDING:
                queued.pop(0).result()  # bound the frames held in memory (and raise the encoder's error)
            yield ExportProgress("render", i + 1, n, f"frame {i + 1}/{n}")
        for f in queued:
            f.result()
        yield ExportProgress("write", n, n, "finishing MP4")
        writer.close()
        writer = None
        _publish(tmp, path)
        tmp = None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # no frame is being piped while the encoder is closed
        if writer is not None:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the encoder is being abandoned
                pass
        _unlink(tmp)
    return path


def _png_bytes(frame: np.ndarray) -> bytes:
    from PIL import Image

    arr = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8))
    mode = "RGBA" if arr[..., 3].min() < 255 else "RGB"
    buf = io.BytesIO()
    Image.fromarray(arr if mode == "RGBA" else arr[..., :3].copy(), mode).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def write_png_frames(path: Path, frame_at: FrameFn, n: int) -> Generator[ExportProgress, None, Path]:
    """frame_00000.png ... in a folder; the folder is built beside the target and swapped in at the end."""
    if path.exists() and not path.is_dir():
        raise ExportError(f"cannot write PNG frames to {path}: it exists and is not a folder")
    tmp = old = None
    try:
        with deferred_interrupts():
            tmp = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        for i in range(n):
            Path(tmp, f"frame_{i:05d}.png").write_bytes(_png_bytes(frame_at(i)))
            yield ExportProgress("render", i + 1, n, f"frame {i + 1}/{n}")
        os.chmod(tmp, 0o777 & ~_umask())
        with deferred_interrupts():  # the swap is two renames: never stop between them
            check_interrupt()
            if path.exists():
                old = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent)
                os.replace(path, Path(old, "d"))
            try:
                os.replace(tmp, path)
            except BaseException:
                if old:
                    os.replace(Path(old, "d"), path)
                raise
            tmp = None
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    return path


def write_animation(path: str | os.PathLike, fmt: str, frame_at: FrameFn, n: int, fps: float = 30.0,
                    loop: bool = True) -> Generator[ExportProgress, None, Path]:
    """Write n frames in `fmt` (gif, mp4, png-frames, png = frame 0 only); returns the final path."""
    p = Path(path)
    if n < 1:
        raise ExportError("an export needs at least one frame")
    if fmt == "gif":
        return (yield from write_gif(p, frame_at, n, fps, loop))
    if fmt == "mp4":
        return (yield from write_mp4(p, frame_at, n, fps))
    if fmt == "png-frames":
        return (yield from write_png_frames(p, frame_at, n))
    if fmt == "png":
        data = _png_bytes(frame_at(0))
        yield ExportProgress("write", 1, 1, "writing PNG")
        tmp = None
        try:
            with deferred_interrupts():
                tmp = _temp_beside(p)
            Path(tmp).write_bytes(data)
            _publish(tmp, p)
            tmp = None
        finally:
            _unlink(tmp)
        return p
    raise ExportError(f"unknown format {fmt!r}")
