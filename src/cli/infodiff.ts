/**
 * infodiff: the runtime's numerics from the command line, on .npy files (NHWC float32 images, int32 timesteps).
 *
 *   npx tsx src/cli/infodiff.ts encode  --model DIR --images x.npy --out z.npy
 *   npx tsx src/cli/infodiff.ts denoise --model DIR --xt xt.npy --t t.npy --z z.npy --out eps.npy
 *   npx tsx src/cli/infodiff.ts sample  --model DIR --z z.npy [--xT xT.npy | --seed N] --steps S [--eta E] --out x0.npy
 *   npx tsx src/cli/infodiff.ts invert  --model DIR --images x.npy [--z z.npy] --steps S --out xT.npy
 *   npx tsx src/cli/infodiff.ts nll     --model DIR --images x.npy --samples K [--seed N] --out nll.json
 *
 * Every command runs its batch in chunks (`--chunk N` images, default 32) with a progress line per chunk, so any
 * batch size fits in memory, and takes `--backend wasm|cpu` (default wasm: the tfjs WASM backend runs the fixture's denoiser
 * tens of times faster than the plain-JS CPU backend in Node; see docs/benchmarks.md).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../engine/backend';
import {
  CliError,
  DEFAULT_CHUNK_SIZE,
  denoiseCommand,
  encodeCommand,
  invertCommand,
  nllCommand,
  sampleCommand,
  type Log,
} from './commands';

type FlagType = 'path' | 'integer' | 'number';

interface FlagSpec {
  type: FlagType;
  required: boolean;
  help: string;
}

interface CommandSpec {
  summary: string;
  flags: Record<string, FlagSpec>;
  run(values: Record<string, string | number>, log: Log): Promise<unknown>;
}

const path = (help: string, required = true): FlagSpec => ({ type: 'path', required, help });
const integer = (help: string, required = true): FlagSpec => ({ type: 'integer', required, help });
const number = (help: string, required = true): FlagSpec => ({ type: 'number', required, help });

const MODEL = path('model package folder (holding model.json)');
const CHUNK = integer(`images per chunk (default ${DEFAULT_CHUNK_SIZE}); bounds the memory a batch needs`, false);

/** Values as the parser produced them; each command's spec guarantees which keys exist and their types. */
type Values = Record<string, string | number>;
const str = (values: Values, key: string): string => values[key] as string;
const num = (values: Values, key: string): number => values[key] as number;
const optStr = (values: Values, key: string): string | undefined => values[key] as string | undefined;
const optNum = (values: Values, key: string): number | undefined => values[key] as number | undefined;

export const COMMANDS: Record<string, CommandSpec> = {
  encode: {
    summary: 'encode images to latents z = Enc(x)',
    flags: {
      model: MODEL,
      images: path('images [B,H,W,C], float32 in [-1,1] (or uint8 0..255)'),
      out: path('output z.npy [B,D]'),
      chunk: CHUNK,
    },
    run: (v, log) =>
      encodeCommand(
        { model: str(v, 'model'), images: str(v, 'images'), out: str(v, 'out'), chunkSize: optNum(v, 'chunk') },
        log,
      ),
  },
  denoise: {
    summary: 'one denoiser call eps_theta(x_t, t, z)',
    flags: {
      model: MODEL,
      xt: path('noisy images x_t [B,H,W,C] float32'),
      t: path('timesteps [B] int32 (or int64), each in 0..T-1'),
      z: path('latents [B,D] float32'),
      out: path('output eps.npy [B,H,W,C]'),
      chunk: CHUNK,
    },
    run: (v, log) =>
      denoiseCommand(
        {
          model: str(v, 'model'),
          xt: str(v, 'xt'),
          t: str(v, 't'),
          z: str(v, 'z'),
          out: str(v, 'out'),
          chunkSize: optNum(v, 'chunk'),
        },
        log,
      ),
  },
  sample: {
    summary: 'DDIM sampling from x_T conditioned on z',
    flags: {
      model: MODEL,
      z: path('latents [B,D] float32'),
      xT: path('initial noise x_T [B,H,W,C] (default: drawn from --seed)', false),
      seed: integer('seed of x_T ~ N(0, I) when --xT is absent (default 0)', false),
      steps: integer('DDIM steps S (network calls)'),
      eta: number('DDIM eta in [0, 1] (default 0: deterministic)', false),
      'noise-seed': integer(
        'seed of the per-step noise when eta > 0 (default 0; later chunks derive theirs from it)',
        false,
      ),
      out: path('output x0.npy [B,H,W,C]'),
      chunk: CHUNK,
    },
    run: (v, log) =>
      sampleCommand(
        {
          model: str(v, 'model'),
          z: str(v, 'z'),
          xT: optStr(v, 'xT'),
          seed: optNum(v, 'seed'),
          steps: num(v, 'steps'),
          eta: optNum(v, 'eta') ?? 0,
          noiseSeed: optNum(v, 'noise-seed'),
          out: str(v, 'out'),
          chunkSize: optNum(v, 'chunk'),
        },
        log,
      ),
  },
  invert: {
    summary: 'deterministic DDIM inversion x0 -> x_T (z = Enc(x0) unless --z is given)',
    flags: {
      model: MODEL,
      images: path('clean images x0 [B,H,W,C] float32 in [-1,1] (or uint8)'),
      z: path('latents [B,D] to condition on (default Enc(x0))', false),
      steps: integer('DDIM steps S (network calls)'),
      out: path('output xT.npy [B,H,W,C]'),
      chunk: CHUNK,
    },
    run: (v, log) =>
      invertCommand(
        {
          model: str(v, 'model'),
          images: str(v, 'images'),
          z: optStr(v, 'z'),
          steps: num(v, 'steps'),
          out: str(v, 'out'),
          chunkSize: optNum(v, 'chunk'),
        },
        log,
      ),
  },
  nll: {
    summary: 'negative log-likelihood in bits/dim by I-MMSE (Information-Theoretic Diffusion)',
    flags: {
      model: MODEL,
      images: path('images [B,H,W,C] float32 in [-1,1] (or uint8)'),
      samples: integer('K log-SNR samples per image (K denoiser evaluations)'),
      seed: integer('seed of the draws (default 0)', false),
      out: path('output nll.json'),
      chunk: CHUNK,
    },
    run: (v, log) =>
      nllCommand(
        {
          model: str(v, 'model'),
          images: str(v, 'images'),
          samples: num(v, 'samples'),
          seed: optNum(v, 'seed'),
          out: str(v, 'out'),
          chunkSize: optNum(v, 'chunk'),
        },
        log,
      ),
  },
};

const BACKEND_FLAG = 'backend';

/** Parses `--key value` / `--key=value` against a command's flags; throws CliError naming the offending flag. */
export function parseFlags(command: string, args: string[]): { values: Values; backend: 'wasm' | 'cpu' } {
  const spec = COMMANDS[command];
  if (!spec) throw new CliError(`unknown command '${command}'; commands: ${Object.keys(COMMANDS).join(', ')}`);
  const values: Values = {};
  let backend: 'wasm' | 'cpu' = 'wasm';
  for (let k = 0; k < args.length; k++) {
    const arg = args[k];
    if (!arg.startsWith('--')) throw new CliError(`unexpected argument '${arg}' (flags look like --name value)`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let raw: string | undefined = eq >= 0 ? arg.slice(eq + 1) : args[k + 1];
    if (eq < 0) k++;
    if (raw === undefined || (eq < 0 && raw.startsWith('--'))) throw new CliError(`--${name} needs a value`);
    if (name === BACKEND_FLAG) {
      if (raw !== 'wasm' && raw !== 'cpu') throw new CliError(`--backend must be wasm or cpu, got '${raw}'`);
      backend = raw;
      continue;
    }
    const flag = spec.flags[name];
    if (!flag)
      throw new CliError(
        `${command} has no flag --${name}; flags: ${Object.keys(spec.flags)
          .map((f) => `--${f}`)
          .join(', ')}, --backend`,
      );
    if (name in values) throw new CliError(`--${name} is given twice`);
    raw = raw.trim();
    if (flag.type === 'path') {
      if (raw === '') throw new CliError(`--${name} needs a file or folder path`);
      values[name] = raw;
    } else {
      const value = Number(raw);
      if (raw === '' || !Number.isFinite(value) || (flag.type === 'integer' && !Number.isInteger(value))) {
        throw new CliError(`--${name} must be ${flag.type === 'integer' ? 'an integer' : 'a number'}, got '${raw}'`);
      }
      values[name] = value;
    }
  }
  const missing = Object.entries(spec.flags)
    .filter(([name, flag]) => flag.required && !(name in values))
    .map(([name]) => `--${name}`);
  if (missing.length > 0) throw new CliError(`${command} needs ${missing.join(', ')}`);
  return { values, backend };
}

export function usage(): string {
  const lines = ['usage: npx tsx src/cli/infodiff.ts <command> [flags] [--backend wasm|cpu]', ''];
  for (const [name, spec] of Object.entries(COMMANDS)) {
    lines.push(`  ${name}: ${spec.summary}`);
    for (const [flag, f] of Object.entries(spec.flags))
      lines.push(`      --${flag}${f.required ? '' : ' (optional)'}  ${f.help}`);
  }
  return lines.join('\n');
}

/** Runs one command line; returns the process exit code (0 ok, 1 failed, 2 bad usage). */
export async function main(argv: string[], log: Log = (line) => process.stderr.write(`${line}\n`)): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${usage()}\n`);
    return command === undefined ? 2 : 0;
  }
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(command, args);
  } catch (error) {
    log(`infodiff: ${(error as Error).message}`);
    log('run with --help for the commands and their flags');
    return 2;
  }
  try {
    // PROD silences tfjs's console banners (the "install tfjs-node" advice), which would drown the progress lines.
    tf.env().set('PROD', true);
    const active = await selectBackend(parsed.backend);
    log(`infodiff: backend ${tf.getBackend()} (${active.report.reason})`);
    await COMMANDS[command].run(parsed.values, log);
    return 0;
  } catch (error) {
    log(
      `infodiff ${command}: ${error instanceof CliError ? error.message : ((error as Error).stack ?? String(error))}`,
    );
    return 1;
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  // Let the event loop drain (the WASM backend holds no handles), then exit with the command's code.
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
