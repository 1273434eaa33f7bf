export { diffSchema } from './diff-schema';
