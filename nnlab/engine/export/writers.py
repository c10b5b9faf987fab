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


def _rgb(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[..., :3])


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
    sample = np.concatenate([_rgb(f)[::step, ::step].reshape(-1, 3) for f in frames])
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


def to_palette(rgb: np.ndarray, palette) -> "Image.Image":
    """Map a frame to the global palette without dithering; the exact colours keep their exact entries
    (Pillow's mapping goes through a coarse colour cache and would turn white into 252)."""
    from PIL import Image

    pal_img, exact = palette
    im = Image.fromarray(rgb, "RGB").quantize(palette=pal_img, dither=Image.Dither.NONE)
    if not exact:
        return im
    idx = np.array(im)
    packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    for c, k in exact:
        idx[packed == c] = k
    out = Image.fromarray(idx, "P")
    out.putpalette(pal_img.getpalette())
    return out


def write_gif(path: Path, frame_at: FrameFn, n: int, fps: float, loop: bool) -> Generator[ExportProgress, None, Path]:
    """GIF with ONE global palette from a sample of frames; each frame mapped to it without dithering.

    Frames are rendered here (the caller's thread: the GL context lives there) while a worker thread maps the
    previous ones to the palette (Pillow and numpy release the GIL), so mapping overlaps rendering; at most
    GIF_PENDING frames wait, and the output is the same as mapping them in turn.
    """
    from concurrent.futures import ThreadPoolExecutor

    sample_idx = sorted({round(k * (n - 1) / max(1, GIF_SAMPLE_FRAMES - 1)) for k in range(min(n, GIF_SAMPLE_FRAMES))})
    cache: dict[int, np.ndarray] = {}
    for k, i in enumerate(sample_idx):
        cache[i] = np.asarray(frame_at(i), dtype=np.uint8)
        yield ExportProgress("render", k + 1, n, "sampling the palette")
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnlab-gif")
    try:
        palette = global_palette(list(cache.values()))
        mapped = []
        done = len(cache)
        for i in range(n):
            frame = cache.pop(i, None)
            if frame is None:
                frame = np.asarray(frame_at(i), dtype=np.uint8)
                done += 1
            mapped.append(pool.submit(lambda f=frame: to_palette(_rgb(f), palette)))
            if i >= GIF_PENDING:
                mapped[i - GIF_PENDING].result()  # bound the frames held in memory
            yield ExportProgress("render", done, n, f"frame {i + 1}/{n}")
        images = [f.result() for f in mapped]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    yield ExportProgress("write", n, n, "writing GIF")
    tmp = None
    try:
        with deferred_interrupts():
            tmp = _temp_beside(path)
        extra = {"loop": 0} if loop else {}
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps),
                       optimize=False, disposal=1, **extra)
        _publish(tmp, path)
        tmp = None
    finally:
        _unlink(tmp)
    return path


def write_mp4(path: Path, frame_at: FrameFn, n: int, fps: float) -> Generator[ExportProgress, None, Path]:
    """H.264 MP4 (yuv420p, so odd sizes are padded by one pixel) through imageio-ffmpeg."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ExportError("MP4 export needs imageio-ffmpeg: pip install 'nnlab[video]'") from None
    tmp = writer = None
    try:
        with deferred_interrupts():
            tmp = _temp_beside(path, ".part.mp4")
        for i in range(n):
            rgb = _rgb(frame_at(i))
            h, w = rgb.shape[:2]
            if h % 2 or w % 2:
                rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            if writer is None:
                writer = imageio_ffmpeg.write_frames(
                    tmp, (rgb.shape[1], rgb.shape[0]), fps=fps, codec="libx264", pix_fmt_in="rgb24",
                    pix_fmt_out="yuv420p", quality=8, macro_block_size=1, ffmpeg_log_level="error",
                    output_params=["-f", "mp4", "-threads", "1", "-fflags", "+bitexact", "-flags", "+bitexact"])
                writer.send(None)
            writer.send(rgb)
            yield ExportProgress("render", i + 1, n, f"frame {i + 1}/{n}")
        yield ExportProgress("write", n, n, "finishing MP4")
        writer.close()
        writer = None
        _publish(tmp, path)
        tmp = None
    finally:
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
