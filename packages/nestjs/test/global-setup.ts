/**
 * The apps these tests run are TypeScript (Nest's decorators): compile them with the workspace's tsc
 * first, the fixture app into test/fixtures/nest-app/dist and the reference service into
 * examples/nestjs/dist (what its `build` script does). Uses the built @obs/nestjs (`pnpm build`).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export default function setup(): void {
  const tsc = require.resolve('typescript/bin/tsc');
  for (const project of ['./fixtures/nest-app/tsconfig.json', '../../../examples/nestjs/tsconfig.json']) {
    execFileSync(process.execPath, [tsc, '-p', fileURLToPath(new URL(project, import.meta.url))], {
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 120_000,
    });
  }
}
