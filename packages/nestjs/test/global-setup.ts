/**
 * The apps these tests run are TypeScript (Nest's decorators): emit them first, the fixture app into
 * test/fixtures/nest-app/dist and the reference service into examples/nestjs/dist (what its `build`
 * script writes). Uses the built @obs/nestjs (`pnpm build`).
 *
 * Each file is transpiled on its own with its project's compiler options (`ts.transpileModule`): about
 * a second for both, where a `tsc -p` of each took 20 s of CPU. Type errors are the type-check's job
 * (`pnpm lint`: this package's tsconfig includes test/, the example has its own `typecheck`).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const PROJECTS = ['./fixtures/nest-app/tsconfig.json', '../../../examples/nestjs/tsconfig.json'];

/** Writes `outDir`'s JavaScript for every `.ts` file under the project's `rootDir`. */
function emit(tsconfig: string): void {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    tsconfig,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`${tsconfig}: cannot read`);
  const { rootDir, outDir } = parsed.options;
  if (!rootDir || !outDir) throw new Error(`${tsconfig}: needs rootDir and outDir`);
  // both packages are `"type": "module"`, which transpileModule cannot see: emit ES modules
  const compilerOptions = {
    ...parsed.options,
    module: ts.ModuleKind.ESNext,
    sourceMap: false,
    declaration: false,
    declarationMap: false,
  };
  for (const file of parsed.fileNames.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
    const out = join(outDir, relative(rootDir, file)).replace(/\.ts$/, '.js');
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions, fileName: file });
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
}

export default function setup(): void {
  for (const project of PROJECTS) emit(fileURLToPath(new URL(project, import.meta.url)));
}
