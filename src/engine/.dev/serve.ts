import { resolve } from 'node:path';
import { buildHarness, REPO_ROOT } from '../../cli/buildHarness';
import { startStaticServer } from '../../cli/staticServer';
await buildHarness('/tmp/eng/dist');
const s = await startStaticServer('/tmp/eng/dist', { '/models/': resolve(REPO_ROOT, 'public/models') }, Number(process.argv[2]));
console.log('serving', s.origin);
