import { buildHarness } from '../../cli/buildHarness';
await buildHarness(process.argv[2]);
console.log('built');
