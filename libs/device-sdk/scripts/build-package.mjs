// Builds @iot/device-sdk as a package that installs outside the monorepo:
// CommonJS with .d.ts types, and the parts of libs/protocol it uses compiled
// in beside it. `@iot/protocol` is a path alias of the monorepo only, so every
// import of it is rewritten to the compiled copy; zod and mqtt stay ordinary
// dependencies.
//
//   node libs/device-sdk/scripts/build-package.mjs [--out=<dir>]   (default dist/libs/device-sdk)
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ALIAS = '@iot/protocol';
const libRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const libsDir = path.dirname(libRoot);
const workspaceRoot = path.dirname(libsDir);
const outArg = process.argv.find((arg) => arg.startsWith('--out='));
const outDir = path.resolve(outArg ? outArg.slice('--out='.length) : path.join(workspaceRoot, 'dist/libs/device-sdk'));
const codeDir = path.join(outDir, 'lib');
// What `@iot/protocol` becomes: the compiled libs/protocol/src/index.
const protocolEntry = path.join(codeDir, 'protocol/src/index');
// The only sources a build may hold; anything else means a new alias or a stray import.
const allowedSources = [path.join(libRoot, 'src'), path.join(libsDir, 'protocol/src')];

function fail(message) {
  console.error(`device-sdk build: ${message}`);
  process.exit(1);
}

/** The specifier that reaches the compiled protocol from the output of `sourceFile`. */
function protocolSpecifier(sourceFile) {
  const outFileDir = path.join(codeDir, path.dirname(path.relative(libsDir, sourceFile)));
  const relative = path.relative(outFileDir, protocolEntry).split(path.sep).join('/');
  return relative.startsWith('.') ? relative : `./${relative}`;
}

/**
 * Rewrites `@iot/protocol` in `require(…)` (emitted JS), in import and export
 * declarations and in `import("…")` types (emitted .d.ts).
 */
function rewriteAlias(context) {
  const { factory } = context;
  return (sourceFile) => {
    const original = ts.getOriginalNode(sourceFile);
    const specifier = factory.createStringLiteral(protocolSpecifier(original.fileName ?? sourceFile.fileName));
    const isAlias = (node) => node !== undefined && ts.isStringLiteral(node) && node.text === ALIAS;
    const visit = (node) => {
      if (ts.isImportDeclaration(node) && isAlias(node.moduleSpecifier)) {
        return factory.updateImportDeclaration(node, node.modifiers, node.importClause, specifier, node.attributes);
      }
      if (ts.isExportDeclaration(node) && isAlias(node.moduleSpecifier)) {
        return factory.updateExportDeclaration(
          node,
          node.modifiers,
          node.isTypeOnly,
          node.exportClause,
          specifier,
          node.attributes,
        );
      }
      if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && isAlias(node.argument.literal)) {
        const argument = factory.createLiteralTypeNode(specifier);
        return factory.updateImportTypeNode(
          node,
          argument,
          node.attributes,
          node.qualifier,
          node.typeArguments,
          node.isTypeOf,
        );
      }
      if (
        ts.isCallExpression(node) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === 'require' &&
        isAlias(node.arguments[0])
      ) {
        return factory.updateCallExpression(node, node.expression, node.typeArguments, [specifier]);
      }
      return ts.visitEachChild(node, visit, context);
    };
    return ts.visitEachChild(sourceFile, visit, context);
  };
}

const config = ts.getParsedCommandLineOfConfigFile(
  path.join(libRoot, 'tsconfig.lib.json'),
  {
    outDir: codeDir,
    rootDir: libsDir,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    // Node 20 runs ES2021 natively; below ES2022 class fields keep the semantics the specs run with.
    target: ts.ScriptTarget.ES2021,
    declaration: true,
    declarationMap: false,
    sourceMap: false,
    // Helpers inline, so the package needs no tslib.
    importHelpers: false,
    emitDecoratorMetadata: false,
    experimentalDecorators: false,
    noEmit: false,
    noEmitOnError: true,
    composite: false,
    incremental: false,
  },
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')) },
);
if (config.errors.length > 0) fail(ts.formatDiagnostics(config.errors, formatHost()));

function formatHost() {
  return {
    getCanonicalFileName: (name) => name,
    getCurrentDirectory: () => workspaceRoot,
    getNewLine: () => '\n',
  };
}

rmSync(outDir, { recursive: true, force: true });
const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
const stray = program
  .getSourceFiles()
  .filter((file) => !file.isDeclarationFile && !allowedSources.some((dir) => file.fileName.startsWith(dir + '/')));
if (stray.length > 0) fail(`sources outside the SDK and protocol: ${stray.map((f) => f.fileName).join(', ')}`);

const result = program.emit(undefined, undefined, undefined, false, {
  after: [rewriteAlias],
  afterDeclarations: [rewriteAlias],
});
const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
if (result.emitSkipped || diagnostics.some((d) => d.category === ts.DiagnosticCategory.Error)) {
  fail(ts.formatDiagnostics(diagnostics, formatHost()));
}

// No emitted file may still name the alias: the package would not load outside the monorepo.
for (const file of readdirSync(codeDir, { recursive: true, withFileTypes: true })) {
  if (!file.isFile()) continue;
  const full = path.join(file.parentPath, file.name);
  if (readFileSync(full, 'utf8').includes(`'${ALIAS}'`) || readFileSync(full, 'utf8').includes(`"${ALIAS}"`)) {
    fail(`${path.relative(outDir, full)} still imports ${ALIAS}`);
  }
}

const manifest = JSON.parse(readFileSync(path.join(libRoot, 'package.json'), 'utf8'));
// `private` keeps the source folder from being published by mistake; the build is what ships.
delete manifest.private;
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
cpSync(path.join(libRoot, 'README.md'), path.join(outDir, 'README.md'));
console.log(`device-sdk build: ${outDir} (${manifest.name}@${manifest.version})`);
