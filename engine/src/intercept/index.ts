// Public surface of transparent interception for the composition root (cli/wiring.ts).
import type { ResolvedConfig } from '../config/types.ts';
import { compileRules } from './config.ts';
import { InterceptComponent } from './component.ts';

export { InterceptComponent } from './component.ts';

/** The interception component on an edge with intercept.enabled; absent otherwise. */
export function createIntercept(c: ResolvedConfig): InterceptComponent | undefined {
  if (c.role !== 'edge' || !c.intercept?.enabled) return undefined;
  return new InterceptComponent({ config: c.intercept, rules: compileRules(c.intercept).rules });
}
