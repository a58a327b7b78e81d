import ts from 'typescript';
import type { z } from 'zod';
import { env } from '@scoreline/platform';
import { constants, type SourceSetting } from './doc-comments.js';

/**
 * Rebuilds a setting's schema from its source text, for the few processes whose schemas are written
 * inline and not exported (deploy/migrate.ts runs as soon as it is imported). Only what schemas are
 * made of is understood: the `env` helpers, zod methods on their results, literals, and local arrow
 * functions without parameters; anything else stops the generator with the file and the text.
 */
export function staticSchema(setting: SourceSetting): z.ZodType {
  const consts = constants(setting.source);
  const fail = (node: ts.Node): never => {
    throw new Error(
      `${setting.source.fileName}: cannot read the schema of ${setting.name} from "${node.getText()}"`,
    );
  };
  const evaluate = (node: ts.Expression): unknown => {
    if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node)) return evaluate(node.expression);
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
    if (ts.isNumericLiteral(node)) return Number(node.text);
    if (node.kind === ts.SyntaxKind.TrueKeyword) return true;
    if (node.kind === ts.SyntaxKind.FalseKeyword) return false;
    if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.MinusToken) {
      return -(evaluate(node.operand) as number);
    }
    if (ts.isArrayLiteralExpression(node)) return node.elements.map(evaluate);
    if (ts.isObjectLiteralExpression(node)) {
      return Object.fromEntries(
        node.properties.map((p) =>
          ts.isPropertyAssignment(p) && ts.isIdentifier(p.name)
            ? [p.name.text, evaluate(p.initializer)]
            : fail(p),
        ),
      );
    }
    if (ts.isIdentifier(node)) {
      if (node.text === 'env') return env;
      const local = consts.get(node.text);
      if (local && ts.isArrowFunction(local) && local.parameters.length === 0 && !ts.isBlock(local.body)) {
        const body = local.body;
        return () => evaluate(body);
      }
      return fail(node);
    }
    if (ts.isPropertyAccessExpression(node)) {
      const target = evaluate(node.expression) as Record<string, unknown>;
      const member = target[node.name.text];
      if (typeof member !== 'function') return fail(node);
      return (member as (...args: unknown[]) => unknown).bind(target);
    }
    if (ts.isCallExpression(node)) {
      const callee = evaluate(node.expression);
      if (typeof callee !== 'function') return fail(node);
      return (callee as (...args: unknown[]) => unknown)(...node.arguments.map(evaluate));
    }
    return fail(node);
  };
  return evaluate(setting.initializer) as z.ZodType;
}
