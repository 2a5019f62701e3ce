/**
 * A model package read from a folder on disk (Node only): the `PackageFiles` the loader takes, for the CLI,
 * the golden parity test and the benchmark.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { PackageFiles } from '../model/index';

/**
 * @param folder the package folder (holding model.json and the shards)
 * @returns a reader that refuses paths leaving the folder and names the missing file when one is absent
 */
export function fsPackageFiles(folder: string): PackageFiles {
  return {
    async read(path: string): Promise<ArrayBuffer> {
      const relative = normalize(path);
      if (isAbsolute(relative) || relative === '..' || relative.startsWith(`..${sep}`)) {
        throw new Error(`package path ${JSON.stringify(path)} leaves the package folder ${folder}`);
      }
      const file = join(folder, relative);
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new Error(
          code === 'ENOENT'
            ? `model package file not found: ${file}`
            : `cannot read ${file}: ${(error as Error).message}`,
        );
      }
      // A Buffer may be a slice of a shared pool: copy out exactly its bytes.
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}
