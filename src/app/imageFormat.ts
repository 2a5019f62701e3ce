/**
 * Reads what an image file claims to be from its first bytes, before anything is decoded: the format, the
 * pixel size and whether it is animated. Decoding a 20000x20000 PNG to find out it is too big would already
 * have cost gigabytes, and browsers silently decode only the first frame of an animation, so both facts are
 * read from the headers here and reported to the user.
 */

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'svg' | 'heic' | 'unknown';

export interface ImageHeaderInfo {
  format: ImageFormat;
  /** Pixel width from the header, or null where the format does not say or the header is cut short. */
  width: number | null;
  height: number | null;
  /** True for APNG, multi-frame GIF and animated WebP. */
  animated: boolean;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, prefix: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + prefix.length) return false;
  return prefix.every((b, i) => bytes[offset + i] === b);
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  if (bytes.length < offset + length) return '';
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

function readPng(bytes: Uint8Array, view: DataView): ImageHeaderInfo {
  const info: ImageHeaderInfo = { format: 'png', width: null, height: null, animated: false };
  // Chunks: length (4, BE), type (4), data, CRC (4). IHDR comes first; an acTL chunk before IDAT marks APNG.
  let offset = 8;
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = ascii(bytes, offset + 4, 4);
    if (type === 'IHDR' && offset + 16 <= bytes.length) {
      info.width = view.getUint32(offset + 8);
      info.height = view.getUint32(offset + 12);
    } else if (type === 'acTL') {
      info.animated = true;
    } else if (type === 'IDAT' || type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  return info;
}

/** Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames. */
function isJpegStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function readJpeg(bytes: Uint8Array, view: DataView): ImageHeaderInfo {
  const info: ImageHeaderInfo = { format: 'jpeg', width: null, height: null, animated: false };
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) {
      offset += 1;
      continue;
    }
    const marker = bytes[offset + 1];
    // Fill bytes and markers without a length field.
    if (marker === 0xff || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      offset += marker === 0xff ? 1 : 2;
      continue;
    }
    const segmentLength = view.getUint16(offset + 2);
    if (isJpegStartOfFrame(marker) && offset + 9 <= bytes.length) {
      info.height = view.getUint16(offset + 5);
      info.width = view.getUint16(offset + 7);
      break;
    }
    offset += 2 + segmentLength;
  }
  return info;
}

/** Skips GIF data sub-blocks (a size byte, then that many bytes, until a zero size) and returns the offset after. */
function skipGifSubBlocks(bytes: Uint8Array, offset: number): number {
  while (offset < bytes.length) {
    const size = bytes[offset];
    offset += 1;
    if (size === 0) return offset;
    offset += size;
  }
  return offset;
}

function readGif(bytes: Uint8Array, view: DataView): ImageHeaderInfo {
  const info: ImageHeaderInfo = { format: 'gif', width: null, height: null, animated: false };
  if (bytes.length < 13) return info;
  info.width = view.getUint16(6, true);
  info.height = view.getUint16(8, true);
  const flags = bytes[10];
  let offset = 13 + ((flags & 0x80) !== 0 ? 3 * 2 ** ((flags & 0x07) + 1) : 0);
  let frames = 0;
  while (offset < bytes.length && frames < 2) {
    const blockType = bytes[offset];
    if (blockType === 0x21) {
      offset = skipGifSubBlocks(bytes, offset + 2);
    } else if (blockType === 0x2c) {
      frames += 1;
      if (offset + 10 > bytes.length) break;
      const localFlags = bytes[offset + 9];
      offset += 10 + ((localFlags & 0x80) !== 0 ? 3 * 2 ** ((localFlags & 0x07) + 1) : 0);
      offset = skipGifSubBlocks(bytes, offset + 1); // +1: the LZW minimum code size byte
    } else {
      break; // 0x3B trailer, or bytes that are not a GIF block
    }
  }
  info.animated = frames > 1;
  return info;
}

function readWebp(bytes: Uint8Array, view: DataView): ImageHeaderInfo {
  const info: ImageHeaderInfo = { format: 'webp', width: null, height: null, animated: false };
  const chunk = ascii(bytes, 12, 4);
  if (chunk === 'VP8X' && bytes.length >= 30) {
    info.animated = (bytes[20] & 0x02) !== 0;
    info.width = 1 + (bytes[24] | (bytes[25] << 8) | (bytes[26] << 16));
    info.height = 1 + (bytes[27] | (bytes[28] << 8) | (bytes[29] << 16));
  } else if (chunk === 'VP8 ' && bytes.length >= 30) {
    info.width = view.getUint16(26, true) & 0x3fff;
    info.height = view.getUint16(28, true) & 0x3fff;
  } else if (chunk === 'VP8L' && bytes.length >= 25) {
    const bits = view.getUint32(21, true);
    info.width = 1 + (bits & 0x3fff);
    info.height = 1 + ((bits >>> 14) & 0x3fff);
  }
  return info;
}

/** ftyp brands of HEVC-coded HEIF images (what phones save as .heic/.heif); AVIF's brands are not among them. */
const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);

/**
 * True for an ISO-BMFF file whose ftyp box names a HEIC brand, as major or compatible brand. A generic HEIF
 * ('mif1') that also lists 'avif' is an AVIF image, which browsers decode, so only HEVC brands count.
 */
function looksLikeHeic(bytes: Uint8Array, view: DataView): boolean {
  if (ascii(bytes, 4, 4) !== 'ftyp' || bytes.length < 16) return false;
  const boxEnd = Math.min(view.getUint32(0), bytes.length);
  const brands = [ascii(bytes, 8, 4)];
  for (let offset = 16; offset + 4 <= boxEnd; offset += 4) brands.push(ascii(bytes, offset, 4));
  return brands.some((brand) => HEIC_BRANDS.has(brand));
}

function looksLikeSvg(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 512)).trimStart().toLowerCase();
  return head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'));
}

/** Reads format, size and animation from the leading bytes of an image file (the first 64 KiB suffice). */
export function readImageHeader(bytes: Uint8Array): ImageHeaderInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (startsWith(bytes, PNG_SIGNATURE)) return readPng(bytes, view);
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return readJpeg(bytes, view);
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return readGif(bytes, view);
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return readWebp(bytes, view);
  if (ascii(bytes, 0, 2) === 'BM' && bytes.length >= 26) {
    return {
      format: 'bmp',
      width: Math.abs(view.getInt32(18, true)),
      height: Math.abs(view.getInt32(22, true)),
      animated: false,
    };
  }
  if (looksLikeHeic(bytes, view)) return { format: 'heic', width: null, height: null, animated: false };
  if (looksLikeSvg(bytes)) return { format: 'svg', width: null, height: null, animated: false };
  return { format: 'unknown', width: null, height: null, animated: false };
}
