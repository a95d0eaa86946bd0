// Types for preact-htm.js (htm 3.1.1's preact/standalone.module.js: Preact 10, its hooks and htm
// in one file). The declarations are Preact's own, from the pinned `preact` devDependency, and
// `html` is typed as in htm's `preact/index.d.ts`.
import type { VNode } from 'preact';

export { h, render, Component, createContext } from 'preact';
export {
  useState,
  useReducer,
  useEffect,
  useLayoutEffect,
  useRef,
  useImperativeHandle,
  useMemo,
  useCallback,
  useContext,
  useDebugValue,
  useErrorBoundary,
} from 'preact/hooks';

export declare const html: (strings: TemplateStringsArray, ...values: any[]) => VNode;
