//! The grid of a workflow benchmark: which flag values each point gets.
//!
//! A benchmark's command line is the workflow's own, with every single-valued parameter
//! accepting a comma-separated list (`--batch-size 16,32 --workers 1,3`): each list is an axis,
//! and the points are their cross product. The workflow's bench spec supplies default axes,
//! default cases (flag sets such as "the full MNIST with 50 components") and fixed flags; what
//! the command line sets replaces them. Each point is then parsed by the workflow's ordinary
//! parser, so a benchmark point is exactly the `faasml run` with those flags.

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};
use faasml_workflows::AnyWorkflow;
use faasml_workflows::kit::BenchDefaults;
use serde_json::Value;

/// One flag of a point: `--name value`, or `--name` alone for a switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flag {
    /// The long name, without dashes.
    pub(crate) name: String,
    /// The value (`None` for a switch).
    pub(crate) value: Option<String>,
}

/// A point of the grid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    /// Its flags, in command-line order.
    pub(crate) flags: Vec<Flag>,
    /// The parameters they give (resolved).
    pub(crate) params: Value,
}

impl Point {
    /// The value of flag `name` at this point, if set.
    pub(crate) fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|f| f.name == name)
            .map(|f| f.value.as_deref().unwrap_or("true"))
    }

    /// The value of flag `name` at this point: as given, else the parameter it sets as the run
    /// resolves it (`--components` of a point that left it to the default shows the default).
    pub(crate) fn value(&self, workflow: &dyn AnyWorkflow, name: &str) -> String {
        if let Some(v) = self.flag(name) {
            return v.to_string();
        }
        let command = workflow.args(Command::new(workflow.name()));
        let id = command
            .get_arguments()
            .find(|a| a.get_long() == Some(name))
            .map(|a| a.get_id().to_string());
        match id.and_then(|id| self.params.get(id.as_str()).cloned()) {
            Some(Value::String(s)) => s,
            Some(Value::Null) | None => "-".to_string(),
            Some(other) => other.to_string(),
        }
    }

    /// `name value, name value` over `names` (the flags that tell points apart).
    pub(crate) fn label(&self, workflow: &dyn AnyWorkflow, names: &[String]) -> String {
        names
            .iter()
            .map(|n| format!("{n} {}", self.value(workflow, n)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every flag as `name=value`, space-separated (the point in one CSV field).
    pub(crate) fn spec(&self) -> String {
        self.flags
            .iter()
            .map(|f| match &f.value {
                Some(v) => format!("{}={v}", f.name),
                None => f.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The workflow's parameter arguments with every single-valued one taking a list.
pub(crate) fn listify(command: Command) -> Command {
    let ids: Vec<String> = command
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    ids.into_iter().fold(command, |command, id| {
        command.mut_arg(id, |arg| {
            let single = matches!(arg.get_action(), ArgAction::Set);
            if single && arg.get_value_delimiter().is_none() {
                arg.value_delimiter(',').action(ArgAction::Append)
            } else {
                arg
            }
        })
    })
}

/// The flags the user gave for the workflow's parameters, in command-line order: `(long name,
/// values)`, values empty for a switch.
pub(crate) fn user_flags(
    workflow: &dyn AnyWorkflow,
    matches: &ArgMatches,
) -> Vec<(String, Vec<String>)> {
    let command = workflow.args(Command::new(workflow.name()));
    let mut flags: Vec<(usize, String, Vec<String>)> = Vec::new();
    for arg in command.get_arguments() {
        let (id, Some(long)) = (arg.get_id().as_str(), arg.get_long()) else {
            continue;
        };
        if !matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let position = matches.index_of(id).unwrap_or(usize::MAX);
        let values = if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
            Vec::new()
        } else {
            matches
                .get_raw(id)
                .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
                .unwrap_or_default()
        };
        flags.push((position, long.to_string(), values));
    }
    flags.sort_by_key(|f| f.0);
    flags
        .into_iter()
        .map(|(_, name, values)| (name, values))
        .collect()
}

/// Whether `name` is a switch of the workflow (set or not, no value).
fn is_switch(workflow: &dyn AnyWorkflow, name: &str) -> bool {
    workflow
        .args(Command::new(workflow.name()))
        .get_arguments()
        .any(|a| {
            a.get_long() == Some(name)
                && matches!(a.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
        })
}

/// The axes of a benchmark: the flags whose values the points cross, with their values.
pub(crate) struct Grid {
    /// Flag sets each crossed with the axes (at least one, maybe empty).
    pub(crate) cases: Vec<Vec<Flag>>,
    /// Flag name and its values, crossed in order.
    pub(crate) axes: Vec<(String, Vec<Flag>)>,
    /// Flags every point gets first (later ones override them).
    pub(crate) fixed: Vec<Flag>,
}

fn flag(name: &str, value: Option<&str>) -> Flag {
    Flag {
        name: name.to_string(),
        value: value.map(str::to_string),
    }
}

impl Grid {
    /// The grid of `defaults` with the user's flags applied: a flag the user gives replaces a
    /// default axis or fixed value of that name and drops the default cases that set it.
    pub(crate) fn new(
        workflow: &dyn AnyWorkflow,
        defaults: &BenchDefaults,
        user: &[(String, Vec<String>)],
    ) -> Self {
        let given = |name: &str| user.iter().any(|(n, _)| n == name);
        let overridden = defaults.cases.iter().flatten().any(|(name, _)| given(name));
        let cases = if overridden || defaults.cases.is_empty() {
            vec![Vec::new()]
        } else {
            defaults
                .cases
                .iter()
                .map(|case| case.iter().map(|(n, v)| flag(n, Some(v))).collect())
                .collect()
        };
        // Default axes keep their place, with the user's values where the user gave some.
        let user_values = |name: &str| user.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        let mut axes: Vec<(String, Vec<Flag>)> = defaults
            .axes
            .iter()
            .map(|(name, values)| {
                let values = match user_values(name) {
                    Some(given) => given.iter().map(|v| flag(name, Some(v))).collect(),
                    None => values
                        .split(',')
                        .map(|v| flag(name, Some(v.trim())))
                        .collect(),
                };
                (name.to_string(), values)
            })
            .collect();
        let mut fixed: Vec<Flag> = defaults
            .fixed
            .iter()
            .filter(|(name, _)| !given(name))
            .map(|(name, value)| {
                if is_switch(workflow, name) {
                    flag(name, None)
                } else {
                    flag(name, Some(value))
                }
            })
            .collect();
        // What the user gives is what the benchmark is about: every valued flag is a column,
        // a list an axis; switches apply to every point.
        for (name, values) in user {
            if defaults.axes.iter().any(|(n, _)| n == name) {
                continue;
            }
            if values.is_empty() {
                fixed.push(flag(name, None));
            } else {
                let values = values.iter().map(|v| flag(name, Some(v))).collect();
                axes.push((name.clone(), values));
            }
        }
        Self { cases, axes, fixed }
    }

    /// The flag sets of every point: each case crossed with every axis, in order (the last axis
    /// varies fastest).
    pub(crate) fn flag_sets(&self) -> Vec<Vec<Flag>> {
        let mut sets = Vec::new();
        for case in &self.cases {
            let mut combos: Vec<Vec<Flag>> = vec![Vec::new()];
            for (_, values) in &self.axes {
                combos = combos
                    .into_iter()
                    .flat_map(|combo| {
                        values.iter().map(move |v| {
                            let mut next = combo.clone();
                            next.push(v.clone());
                            next
                        })
                    })
                    .collect();
            }
            for combo in combos {
                let mut flags = self.fixed.clone();
                flags.extend(case.iter().cloned());
                flags.extend(combo);
                sets.push(flags);
            }
        }
        sets
    }

    /// The flags that tell points apart: every axis, then the flags of the cases.
    pub(crate) fn columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = self.axes.iter().map(|(n, _)| n.clone()).collect();
        for case in &self.cases {
            for f in case {
                if !columns.contains(&f.name) {
                    columns.push(f.name.clone());
                }
            }
        }
        columns
    }
}

/// Parses `flags` with the workflow's own parser and resolves the parameters.
pub(crate) fn parse_point(workflow: &dyn AnyWorkflow, flags: Vec<Flag>) -> Result<Point, String> {
    let mut argv = vec![workflow.name().to_string()];
    for f in &flags {
        argv.push(format!("--{}", f.name));
        if let Some(v) = &f.value {
            argv.push(v.clone());
        }
    }
    let command = workflow.args(Command::new(workflow.name()));
    let matches = command
        .try_get_matches_from(&argv)
        .map_err(|e| e.to_string().trim().to_string())?;
    let params = workflow
        .params_from_matches(&matches)
        .map_err(|e| e.to_string())?;
    let params = workflow.resolve(params).map_err(|e| e.to_string())?;
    Ok(Point { flags, params })
}
