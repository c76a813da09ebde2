// The list of concrete components `run` starts besides admin. Component owners add one entry
// each (tunnel, forwards, socks: engine/src/tunnel; dns: engine/src/dns). On SIGHUP a
// component whose `section` changed is replaced by a fresh one from `create`.
import type { ResolvedConfig } from '../config/types.ts';
import type { BudgetName } from '../memory/policy.ts';
import type { Component } from '../supervisor/component.ts';
import { createTunnel, createForwards, createSocks } from '../tunnel/index.ts';
import { createDnsComponent } from '../dns/index.ts';
import { createIntercept } from '../intercept/index.ts';

export interface Wiring {
  name: string;
  /** Budgets (memory.split entries) whose sum is this component's budgetBytes(). */
  budget?: readonly BudgetName[];
  /** The part of the config this component depends on (compared as JSON on reload). */
  section(c: ResolvedConfig): unknown;
  /** A new component for this config, or undefined when it has no place in it at all. */
  create(c: ResolvedConfig): Component | undefined;
}

export const WIRINGS: Wiring[] = [
  {
    name: 'tunnel',
    budget: ['chunkMemory'],
    section: (c) => [c.role, c.stateDir, c.tunnel, c.caches.chunkDisk],
    create: (c) => createTunnel(c),
  },
  { name: 'forwards', section: (c) => [c.role, c.forwards], create: (c) => createForwards(c) },
  { name: 'socks', section: (c) => [c.role, c.socks], create: (c) => createSocks(c) },
  { name: 'intercept', section: (c) => [c.role, c.intercept], create: (c) => createIntercept(c) },
  {
    name: 'dns',
    budget: ['dns'],
    section: (c) => [c.dns, c.stateDir, c.caches.dnsSnapshot],
    // disabled DNS still appears (as unconfigured) so /status shows why it is not answering
    create: (c) => createDnsComponent(c.dns, { stateDir: c.stateDir, snapshot: c.caches.dnsSnapshot }),
  },
];
