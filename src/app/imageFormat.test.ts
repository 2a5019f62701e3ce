import { describe, expect, it } from 'vitest';
import { readImageHeader } from './imageFormat';

function be32(value: number): number[] {
  return [(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
}
function chars(text: string): number[] {
  return [...text].map((c) => c.charCodeAt(0));
}
/** A PNG chunk with a dummy CRC: the header reader never checks CRCs. */
function pngChunk(type: string, data: number[]): number[] {
  return [...be32(data.length), ...chars(type), ...data, 0, 0, 0, 0];
}
function png(width: number, height: number, extraChunks: number[] = []): Uint8Array {
  const ihdr = pngChunk('IHDR', [...be32(width), ...be32(height), 8, 6, 0, 0, 0]);
  return new Uint8Array([
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    ...ihdr,
    ...extraChunks,
    ...pngChunk('IDAT', [1, 2, 3]),
  ]);
}
/** A GIF with a 2-colour global table and `frames` 1x1 image descriptors, each with one data sub-block. */
function gif(frames: number): Uint8Array {
  const header = [...chars('GIF89a'), 3, 0, 2, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255];
  const graphicControl = [0x21, 0xf9, 4, 0, 10, 0, 0, 0];
  const frame = [0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0];
  const body = Array.from({ length: frames }, () => [...graphicControl, ...frame]).flat();
  return new Uint8Array([...header, ...body, 0x3b]);
}

describe('readImageHeader', () => {
  it('reads the size of a PNG and tells APNG from PNG by the acTL chunk', () => {
    expect(readImageHeader(png(640, 480))).toEqual({ format: 'png', width: 640, height: 480, animated: false });
    expect(readImageHeader(png(16, 16, pngChunk('acTL', [...be32(4), ...be32(0)])))).toMatchObject({ animated: true });
  });

  it('counts GIF frames past extension blocks and colour tables', () => {
    expect(readImageHeader(gif(1))).toEqual({ format: 'gif', width: 3, height: 2, animated: false });
    expect(readImageHeader(gif(3))).toMatchObject({ format: 'gif', animated: true });
  });

  it('finds the JPEG size in the start-of-frame segment after other segments', () => {
    const app0 = [0xff, 0xe0, 0, 6, ...chars('JFIF')];
    const dht = [0xff, 0xc4, 0, 4, 0, 0]; // 0xC4 is in the SOF range but is a Huffman table
    const sof0 = [0xff, 0xc0, 0, 11, 8, ...[0x01, 0x2c], ...[0x01, 0x90], 1, 1, 0x11, 0];
    const info = readImageHeader(new Uint8Array([0xff, 0xd8, ...app0, ...dht, ...sof0]));
    expect(info).toEqual({ format: 'jpeg', width: 400, height: 300, animated: false });
  });

  it('reads the canvas size and animation flag of an extended WebP', () => {
    const vp8x = [...chars('VP8X'), 10, 0, 0, 0, 0x02, 0, 0, 0, 99, 0, 0, 49, 0, 0];
    const bytes = new Uint8Array([...chars('RIFF'), 0, 0, 0, 0, ...chars('WEBP'), ...vp8x]);
    expect(readImageHeader(bytes)).toEqual({ format: 'webp', width: 100, height: 50, animated: true });
  });

  it('recognises SVG text and leaves other bytes unknown', () => {
    expect(
      readImageHeader(new TextEncoder().encode('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'))
        .format,
    ).toBe('svg');
    expect(readImageHeader(new TextEncoder().encode('hello, this is a text file'))).toEqual({
      format: 'unknown',
      width: null,
      height: null,
      animated: false,
    });
  });

  it('recognises HEIC by its ftyp brands, major or compatible, and leaves AVIF alone', () => {
    /** An ISO-BMFF ftyp box (major brand, minor version 0, compatible brands) followed by a few bytes. */
    const ftyp = (major: string, compatible: string[]) => {
      const body = [...chars(major), 0, 0, 0, 0, ...compatible.flatMap(chars)];
      return new Uint8Array([...be32(8 + body.length), ...chars('ftyp'), ...body, 0, 0, 0, 8, ...chars('meta')]);
    };
    expect(readImageHeader(ftyp('heic', ['mif1', 'heic'])).format).toBe('heic');
    expect(readImageHeader(ftyp('mif1', ['mif1', 'heix'])).format).toBe('heic');
    expect(readImageHeader(ftyp('avif', ['mif1', 'avif', 'miaf'])).format).toBe('unknown');
    expect(readImageHeader(ftyp('isom', ['isom', 'mp41'])).format).toBe('unknown');
  });

  it('survives truncated headers without throwing', () => {
    const truncated = png(32, 32).subarray(0, 20);
    expect(readImageHeader(truncated)).toMatchObject({ format: 'png', width: null, height: null });
    expect(readImageHeader(gif(2).subarray(0, 8))).toMatchObject({ format: 'gif', width: null });
  });
});
