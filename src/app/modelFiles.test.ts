import { describe, expect, it } from 'vitest';
import { packageFilesFromPick } from './modelFiles';

const bytes = (n: number) => new Uint8Array([n]).buffer;

describe('packageFilesFromPick', () => {
  it('maps a picked folder to package-relative paths, keeping subfolders such as gallery/', () => {
    const { files, label } = packageFilesFromPick([
      { path: 'models/fmnist/model.json', bytes: bytes(1) },
      { path: 'models/fmnist/group1-shard1of1.bin', bytes: bytes(2) },
      { path: 'models/fmnist/gallery/0.png', bytes: bytes(3) },
      { path: 'models/readme.txt', bytes: bytes(4) },
    ]);
    expect(label).toBe('fmnist');
    expect([...files.keys()].sort()).toEqual(['gallery/0.png', 'group1-shard1of1.bin', 'model.json']);
  });

  it('accepts loose files picked together', () => {
    const { files, label } = packageFilesFromPick([
      { path: 'model.json', bytes: bytes(1) },
      { path: 'group1-shard1of2.bin', bytes: bytes(2) },
    ]);
    expect(label).toBe('model.json');
    expect(files.size).toBe(2);
  });

  it('refuses a pick without model.json, or with two', () => {
    expect(() => packageFilesFromPick([{ path: 'group1-shard1of1.bin', bytes: bytes(1) }])).toThrow(
      /No model.json among the chosen files/,
    );
    expect(() =>
      packageFilesFromPick([
        { path: 'a/model.json', bytes: bytes(1) },
        { path: 'b/model.json', bytes: bytes(2) },
      ]),
    ).toThrow('The chosen files hold 2 model.json files (a/model.json, b/model.json)');
  });
});
