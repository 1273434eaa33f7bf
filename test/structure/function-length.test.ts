/**
 * "One rule, one place": no function of the shipped code is longer than MAX_FUNCTION_LINES lines. Every .ts file
 * (not .d.ts) under the source directories is parsed with the TypeScript compiler and every function-like node with
 * a body (declarations, methods, constructors, accessors, arrow functions, function expressions) is measured by the
 * lines it spans, from its first token to its closing brace.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as ts from 'typescript';

/** The longest function allowed, in lines. */
const MAX_FUNCTION_LINES = 150;
const ROOT = join(__dirname, '..', '..');
const SOURCE_DIRECTORIES = ['lib', 'lambda', 'cli', 'rehearsal', 'contract', 'bin'];

interface LongFunction {
  readonly line: number;
  readonly name: string;
  readonly length: number;
}

/** Every .ts file (not .d.ts) under `dir`, recursively. */
function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : typeScriptFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** A readable name for a function-like node: its own, else the variable, property or call it is given to. */
function functionName(node: ts.FunctionLikeDeclaration, file: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (node.name) return node.name.getText(file);
  const parent = node.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) && parent.name) {
    return parent.name.getText(file);
  }
  if (ts.isCallExpression(parent)) return `<callback of ${parent.expression.getText(file).slice(0, 60)}>`;
  return '<anonymous>';
}

/** The functions of `source` longer than `max` lines. */
function longFunctions(fileName: string, source: string, max = MAX_FUNCTION_LINES): LongFunction[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const fn = node as ts.FunctionLikeDeclaration;
      const first = file.getLineAndCharacterOfPosition(fn.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(fn.getEnd()).line;
      const length = last - first + 1;
      if (length > max) found.push({ line: first + 1, name: functionName(fn, file), length });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('function length', () => {
  it('finds a function one line over the limit (the check is not vacuous)', () => {
    // A signature line, MAX_FUNCTION_LINES - 1 body lines and a closing brace: one line over.
    const body = Array.from({ length: MAX_FUNCTION_LINES - 1 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const tooLong = `export function tooLong(): void {\n${body}\n}\n`;
    expect(longFunctions('synthetic.ts', tooLong)).toEqual([
      { line: 1, name: 'tooLong', length: MAX_FUNCTION_LINES + 1 },
    ]);
    // The same body one line shorter is at the limit; arrow functions and methods are measured too.
    const atLimit = `export function atLimit(): void {\n${body.split('\n').slice(1).join('\n')}\n}\n`;
    expect(longFunctions('synthetic.ts', atLimit)).toEqual([]);
    const arrow = `const f = () => {\n${body}\n};\nclass C {\n  m(): void {\n${body}\n  }\n}\n`;
    expect(longFunctions('synthetic.ts', arrow).map((f) => f.name)).toEqual(['f', 'm']);
  });

  it(`no function in ${SOURCE_DIRECTORIES.join(', ')} is over ${MAX_FUNCTION_LINES} lines`, () => {
    const files = SOURCE_DIRECTORIES.flatMap((dir) => typeScriptFiles(join(ROOT, dir)));
    expect(files.length).toBeGreaterThan(50);
    const violations = files.flatMap((path) =>
      longFunctions(path, readFileSync(path, 'utf8')).map(
        (f) => `${relative(ROOT, path)}:${f.line} ${f.name} ${f.length} lines`,
      ),
    );
    expect(violations).toEqual([]);
  });
});
