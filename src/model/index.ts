/**
 * Public surface of src/model: the InfoDiffusion networks behind one interface, the model-package reader
 * and writer, and helpers for tests, tools and benchmarks. Used by src/diffusion, src/engine and the CLI.
 */
export type { InfoDiffusionModel, StudentDenoiser } from './model';
export { createInfoDiffusionModel } from './model';
export {
  encodeModelJson,
  fileMapPackageFiles,
  loadModelPackage,
  readModelPackage,
  urlPackageFiles,
  writeModelPackage,
  writtenPackageFiles,
  type FetchLike,
  type LoadOptions,
  type LoadProgress,
  type PackageContents,
  type PackageFiles,
  type WriteOptions,
  type WrittenPackage,
} from './package';
export { PackageFileError } from './package';
export {
  ModelPackageError,
  parseMetadata,
  parseModelJson,
  type ModelJson,
  type WeightGroup,
  type WeightSpec,
} from './modelJson';
export {
  expectedParameters,
  parameterCount,
  planModules,
  STUDENT_PREFIX,
  studentParameters,
  TIME_TABLE_NAME,
  unetPlan,
  type DownSampleModule,
  type ResModule,
  type UNetModule,
  type UNetPlan,
  type UpSampleModule,
} from './parameters';
export { networkFlops } from './cost';
export {
  randomParameters,
  randomStudent,
  seededNormal,
  seededUniform,
  sinusoidTimeTable,
  syntheticModelMetadata,
} from './random';
export { float16BitsToFloat32, float32ToFloat16Bits } from './float16';
export {
  npyArray,
  NpyError,
  npyToFloat32,
  npyToInt32,
  parseNpy,
  serializeNpy,
  type NpyArray,
  type NpyData,
  type NpyDtype,
} from './npy';
export type { ParameterMap } from './weights';
export type { ArchitectureConfig, ScheduleConfig } from './config';
export { resolveArchitecture, resolveSchedule, ConfigError, OFFICIAL_SCHEDULE, DDPM_SCHEDULE } from './config';
export type * from './metadata';
export { MAX_STUDENT_CALLS, MODEL_FORMAT, MODEL_FORMAT_VERSION, PARAMETERISATIONS } from './metadata';
