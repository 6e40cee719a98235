/**
 * The one server hook: every request any `node:http` or `node:https` server of the process receives
 * is handed to the request observer before the server's `request` listeners (Express, Fastify, Koa,
 * Nest, a bare handler) run. Node publishes `http.server.request.start` on `node:diagnostics_channel`
 * synchronously, just before it emits `request`; the observer starts the request's observation there,
 * and its context (SERVER span, request id) is made active for the rest of that synchronous run with
 * `AsyncLocalStorage#enterWith`, so the framework, the app's handlers and everything they schedule run
 * inside it. Nothing wraps the server's `emit` or its listeners, so an app that replaces them is still
 * observed, and a request costs one channel message, not a closure per listener.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { diagnose } from '../diag.js';
import type { RequestObserver } from './observer.js';

/** Node's message on `http.server.request.start`. */
interface RequestStart {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
}

const CHANNEL = 'http.server.request.start';
let warned = false;

/**
 * Observe every incoming request from now on. Without @obs's context manager (another one was
 * installed first) the adapters run each request inside its context themselves.
 * @returns stops observing
 */
export function instrumentServers(observer: RequestObserver): () => void {
  const onRequestStart = (message: unknown): void => {
    const { request, response } = message as RequestStart;
    try {
      observer.arrive(request, response);
    } catch (err) {
      // a subscriber's exception would reach the app as an uncaught exception: never let it
      if (!warned) {
        warned = true;
        diagnose('warn', `request observation failed; requests are served unobserved: ${String(err)}`);
      }
    }
  };
  subscribe(CHANNEL, onRequestStart);
  return () => unsubscribe(CHANNEL, onRequestStart);
}
