"""Writes the test images the app's e2e specs upload (run: /usr/bin/python3 e2e/app/images/make_images.py).

Each file exercises one path of the image input: a normal photo-like picture, and the awkward cases the app
must handle with a clear message (transparent, animated, tiny, huge, corrupt, not an image).
"""
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).parent


def boot_on_white() -> Image.Image:
    """A dark ankle-boot silhouette on a light background, landscape 96x64: to be cropped and inverted."""
    image = Image.new("RGB", (96, 64), (236, 232, 226))
    draw = ImageDraw.Draw(image)
    draw.polygon([(34, 12), (52, 12), (54, 38), (70, 42), (74, 52), (30, 52)], fill=(40, 34, 30))
    draw.rectangle([30, 50, 74, 54], fill=(20, 18, 16))
    return image


def main() -> None:
    boot_on_white().save(HERE / "boot-on-white.png")
    boot_on_white().save(HERE / "boot-on-white.jpg", quality=90)

    transparent = Image.new("RGBA", (48, 48), (0, 0, 0, 0))
    ImageDraw.Draw(transparent).ellipse([10, 10, 38, 38], fill=(30, 30, 30, 255))
    transparent.save(HERE / "transparent-disc.png")

    frames = []
    for k in range(3):
        frame = Image.new("L", (32, 32), 0)
        ImageDraw.Draw(frame).rectangle([4 + 6 * k, 8, 14 + 6 * k, 24], fill=255)
        frames.append(frame)
    frames[0].save(HERE / "animated-bar.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)

    Image.new("L", (3, 3), 200).save(HERE / "tiny-3x3.png")

    # A valid PNG header that claims 20000 x 20000 pixels (the body is not there): refused before decoding.
    header = (HERE / "tiny-3x3.png").read_bytes()[:33]
    huge = bytearray(header)
    huge[16:24] = (20000).to_bytes(4, "big") + (20000).to_bytes(4, "big")
    (HERE / "huge-header.png").write_bytes(bytes(huge))

    # The first half of a real PNG: the header is fine, the pixel data is cut off.
    whole = (HERE / "boot-on-white.png").read_bytes()
    (HERE / "truncated.png").write_bytes(whole[: len(whole) // 2])

    (HERE / "notes.txt").write_text("This is a text file, not an image.\n", encoding="utf-8")


if __name__ == "__main__":
    main()
