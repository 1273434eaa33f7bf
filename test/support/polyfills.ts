// aws-local-stepfunctions asks for Node >= 22; Node 20 lacks Promise.withResolvers.
import '../../rehearsal/local/polyfills';

// The AWS SDK warns once per process on Node 20 that its releases after January 2027 need Node 22 (the README says
// which Node versions are tested and recommended): in `npm test` it is noise in every worker, not a result.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
