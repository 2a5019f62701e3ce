/**
 * Turns what a user picked in "Open a model" (model.json and its shards as loose files, or a whole folder) into
 * the package-relative file map the engine loads. Pure: the caller reads the bytes.
 */

export interface PickedFile {
  /** The path the browser gave: `webkitRelativePath` for a folder pick ("fmnist/gallery/0.png"), else the name. */
  path: string;
  bytes: ArrayBuffer;
}

export interface PackageFiles {
  /** Package-relative path ("model.json", "group1-shard1of1.bin", "gallery/0.png") to bytes. */
  files: Map<string, ArrayBuffer>;
  /** The folder name, or "model.json" for loose files: how the picker names the model. */
  label: string;
}

export class ModelFilesError extends Error {
  override name = 'ModelFilesError';
}

/**
 * Finds the one model.json among the picked files and maps every file under its folder to a package path;
 * files elsewhere (a sibling model in the same pick) are left out.
 * @throws ModelFilesError when there is no model.json, or more than one.
 */
export function packageFilesFromPick(picked: readonly PickedFile[]): PackageFiles {
  const manifests = picked.filter((file) => file.path === 'model.json' || file.path.endsWith('/model.json'));
  if (manifests.length === 0) {
    throw new ModelFilesError(
      'No model.json among the chosen files: choose model.json together with its .bin shards, or the whole model folder.',
    );
  }
  if (manifests.length > 1) {
    throw new ModelFilesError(
      `The chosen files hold ${manifests.length} model.json files (${manifests.map((m) => m.path).join(', ')}): choose one model's folder.`,
    );
  }
  const folder = manifests[0].path.slice(0, manifests[0].path.length - 'model.json'.length);
  const files = new Map<string, ArrayBuffer>();
  for (const file of picked) {
    if (file.path.startsWith(folder)) files.set(file.path.slice(folder.length), file.bytes);
  }
  const label = folder ? folder.replace(/\/$/, '').split('/').pop()! : 'model.json';
  return { files, label };
}
